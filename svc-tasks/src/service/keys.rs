//! API keys: issuing and revoking them, and announcing both to the other services
//! (`ApiKeyIssued`, `ApiKeyRevoked` on `taskflow.tenants.keys.v1`) through the outbox, in the
//! transaction that changes the key. Keys issued before svc-tasks announced keys are announced
//! at start-up ([`announce_backlog`]).

use diesel_async::AsyncConnection;
use taskflow_platform::headers::current_trace;
use taskflow_schemas::{Event, EventMeta};
use uuid::Uuid;

use super::credentials::new_api_key;
use super::{ServiceError, Services};
use crate::domain::api_key;
use crate::store::{self, Conn};

/// A key as issued: the secret is in `key` and is never retrievable again.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    pub key_id: Uuid,
    pub key: String,
    pub prefix: String,
}

/// Who writes key events now, and for which request.
#[derive(Debug, Clone)]
pub(super) struct Stamp {
    correlation_id: String,
    producer: String,
    now_ms: i64,
}

impl Stamp {
    pub(super) fn new(services: &Services, correlation_id: &str) -> Self {
        Self {
            correlation_id: correlation_id.to_owned(),
            producer: services.producer_name.clone(),
            now_ms: services.clock.now_millis(),
        }
    }

    fn meta(&self, tenant_id: Uuid) -> EventMeta {
        EventMeta::new(
            self.now_ms,
            self.correlation_id.as_str(),
            tenant_id,
            self.producer.as_str(),
        )
    }
}

/// Issues a key to an existing tenant, with its `ApiKeyIssued`, in one transaction.
pub async fn add_key(
    services: &Services,
    tenant_id: Uuid,
    correlation_id: &str,
) -> Result<IssuedKey, ServiceError> {
    let stamp = Stamp::new(services, correlation_id);
    let mut conn = services.db.get().await?;
    let key = conn
        .transaction::<_, ServiceError, _>(async move |conn| {
            store::get_tenant(conn, tenant_id)
                .await?
                .ok_or(ServiceError::TenantNotFound)?;
            issue(conn, tenant_id, &stamp).await
        })
        .await?;
    services.outbox_ready.notify_one();
    Ok(key)
}

/// Revokes an active key of the tenant, with its `ApiKeyRevoked`, in one transaction.
pub async fn revoke_key(
    services: &Services,
    tenant_id: Uuid,
    key_id: Uuid,
    correlation_id: &str,
) -> Result<(), ServiceError> {
    let stamp = Stamp::new(services, correlation_id);
    let mut conn = services.db.get().await?;
    conn.transaction::<_, ServiceError, _>(async move |conn| {
        let key = store::lock_active_api_key(conn, tenant_id, key_id)
            .await?
            .ok_or(ServiceError::KeyNotFound)?;
        store::revoke_api_key(conn, key.id).await?;
        let mut events = Vec::with_capacity(2);
        if !key.announced {
            // Issued before key events existed, and no start-up has announced it yet: others
            // learn that it existed before they learn that it is gone.
            events.extend(api_key::history(
                &key,
                &stamp.correlation_id,
                &stamp.producer,
            ));
            store::mark_api_keys_announced(conn, &[key.id]).await?;
        }
        events.push(api_key::revoked(stamp.meta(tenant_id), key.id));
        enqueue(conn, events).await
    })
    .await?;
    services.outbox_ready.notify_one();
    Ok(())
}

/// Creates a key of `tenant_id` and enqueues its `ApiKeyIssued`, in the caller's transaction
/// (which wakes the relay after it commits).
pub(super) async fn issue(
    conn: &mut Conn,
    tenant_id: Uuid,
    stamp: &Stamp,
) -> Result<IssuedKey, ServiceError> {
    let (key, hash, prefix) = new_api_key();
    let key_id = Uuid::now_v7();
    store::insert_api_key(conn, key_id, tenant_id, &hash, &prefix).await?;
    let event = api_key::issued(stamp.meta(tenant_id), key_id, &hash, &prefix);
    enqueue(conn, vec![event]).await?;
    Ok(IssuedKey {
        key_id,
        key,
        prefix,
    })
}

/// Announces every key that was never announced (issued before svc-tasks published key events),
/// with its whole history, and marks them announced, in one transaction. Safe with several
/// instances starting at once: each locks the keys it announces and skips those another holds.
/// Returns how many keys it announced.
pub async fn announce_backlog(services: &Services) -> Result<usize, ServiceError> {
    let correlation_id = Uuid::now_v7().to_string();
    let producer = services.producer_name.clone();
    let mut conn = services.db.get().await?;
    let announced = conn
        .transaction::<_, ServiceError, _>(async move |conn| {
            let keys = store::lock_unannounced_api_keys(conn).await?;
            if keys.is_empty() {
                return Ok(0);
            }
            let events = keys
                .iter()
                .flat_map(|key| api_key::history(key, &correlation_id, &producer))
                .collect();
            let ids: Vec<Uuid> = keys.iter().map(|key| key.id).collect();
            store::mark_api_keys_announced(conn, &ids).await?;
            // Last: after every row lock, so per key ids follow commit order.
            enqueue(conn, events).await?;
            Ok(keys.len())
        })
        .await?;
    if announced > 0 {
        tracing::info!(announced, "announced api keys issued before key events");
        services.outbox_ready.notify_one();
    }
    Ok(announced)
}

/// Rows per outbox statement, well under PostgreSQL's bind parameter limit.
const ENQUEUE_CHUNK: usize = 1000;

async fn enqueue(conn: &mut Conn, events: Vec<Event>) -> Result<(), ServiceError> {
    let trace = current_trace();
    let outgoing: Vec<_> = events.into_iter().map(|e| (e, trace.clone())).collect();
    for chunk in outgoing.chunks(ENQUEUE_CHUNK) {
        store::enqueue_all(conn, chunk).await?;
    }
    Ok(())
}
