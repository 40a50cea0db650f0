//! What svc-tasks tells other services about API keys (`taskflow.tenants.keys.v1`, compacted,
//! keyed by key id): `ApiKeyIssued` with the key's SHA-256, never the key, and `ApiKeyRevoked`.

use chrono::{DateTime, Utc};
use taskflow_schemas::{ApiKeyIssued, ApiKeyRevoked, Event, EventMeta};
use uuid::Uuid;

/// A stored key: its hash, never the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// SHA-256 of the whole key text.
    pub hash: Vec<u8>,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Its events are in the outbox (or already on Kafka).
    pub announced: bool,
}

/// `meta.tenant_id` must be the key's tenant.
pub fn issued(meta: EventMeta, key_id: Uuid, hash: &[u8], prefix: &str) -> Event {
    ApiKeyIssued {
        meta,
        key_id,
        key_sha256: ApiKeyIssued::hash_hex(hash),
        key_prefix: prefix.to_owned(),
    }
    .into()
}

pub fn revoked(meta: EventMeta, key_id: Uuid) -> Event {
    ApiKeyRevoked {
        meta,
        key_id,
        reason: None,
    }
    .into()
}

/// The whole history of a key that was never announced (issued before svc-tasks published key
/// events): issued when it was created, then revoked if it is. Oldest first.
pub fn history(key: &ApiKey, correlation_id: &str, producer: &str) -> Vec<Event> {
    let meta = |at: DateTime<Utc>| {
        EventMeta::new(
            at.timestamp_millis(),
            correlation_id,
            key.tenant_id,
            producer,
        )
    };
    let mut events = vec![issued(meta(key.created_at), key.id, &key.hash, &key.prefix)];
    if let Some(at) = key.revoked_at {
        events.push(revoked(meta(at), key.id));
    }
    events
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn key(revoked_at: Option<DateTime<Utc>>) -> ApiKey {
        ApiKey {
            id: Uuid::now_v7(),
            tenant_id: Uuid::now_v7(),
            hash: vec![0x00, 0x0f, 0xa5, 0xff],
            prefix: "tfk_abcdef".into(),
            created_at: Utc.timestamp_millis_opt(1_000).single().expect("time"),
            revoked_at,
            announced: false,
        }
    }

    #[test]
    fn an_active_key_has_only_been_issued() {
        let key = key(None);
        let events = history(&key, "corr", "svc-tasks/test");
        let [Event::ApiKeyIssued(issued)] = events.as_slice() else {
            panic!("{events:?}");
        };
        assert_eq!(issued.key_id, key.id);
        assert_eq!(issued.key_sha256, "000fa5ff");
        assert_eq!(issued.key_prefix, "tfk_abcdef");
        assert_eq!(issued.meta.tenant_id, key.tenant_id);
        assert_eq!(issued.meta.occurred_at, 1_000);
        assert_eq!(issued.meta.correlation_id, "corr");
        assert_eq!(issued.meta.producer, "svc-tasks/test");
    }

    #[test]
    fn a_revoked_key_was_issued_then_revoked() {
        let at = Utc.timestamp_millis_opt(5_000).single().expect("time");
        let key = key(Some(at));
        let events = history(&key, "corr", "svc-tasks/test");
        let [Event::ApiKeyIssued(issued), Event::ApiKeyRevoked(revoked)] = events.as_slice() else {
            panic!("{events:?}");
        };
        assert_eq!(issued.key_id, key.id);
        assert_eq!(revoked.key_id, key.id);
        assert_eq!(revoked.meta.occurred_at, 5_000);
        assert_eq!(revoked.reason, None);
        assert_ne!(issued.meta.event_id, revoked.meta.event_id);
    }
}
