//! The API-key directory: the tenants' API keys as svc-tasks announces them on the keys topic,
//! by SHA-256 only, so a service other than svc-tasks can tell which tenant a key belongs to.
//! The table is a platform migration (`api_key_directory`); a consumer applies the keys topic's
//! events with [`apply`] in the transaction of its inbox, and the HTTP side asks through
//! [`crate::http::tenant`].

use chrono::{DateTime, Utc};
use diesel::dsl::{IntervalDsl, now};
use diesel::prelude::*;
use diesel::result::Error;
use diesel::sql_types::Timestamptz;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use sha2::{Digest, Sha256};
use taskflow_schemas::Event;
use uuid::Uuid;

diesel::table! {
    api_key_directory (key_id) {
        key_id -> Uuid,
        tenant_id -> Uuid,
        key_sha256 -> Bytea,
        key_prefix -> Text,
        issued_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

/// An active key: whose it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyOwner {
    pub key_id: Uuid,
    pub tenant_id: Uuid,
}

/// What applying one event changed in the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyChange {
    /// A key the directory did not know.
    Issued,
    /// A key that was active is not any more.
    Revoked,
    /// Nothing: a repeat, a revocation of a key unknown or already revoked, an issue without a
    /// usable hash, or not a key event.
    Unchanged,
}

/// Applies `ApiKeyIssued`/`ApiKeyRevoked` (any other event changes nothing), idempotently: a key
/// is recorded once, its first revocation counts and a later issue of a revoked key does not
/// bring it back. Call it in the transaction that records the event in the inbox.
pub async fn apply(conn: &mut AsyncPgConnection, event: &Event) -> Result<KeyChange, Error> {
    match event {
        Event::ApiKeyIssued(e) => {
            let Some(hash) = e.key_hash() else {
                tracing::warn!(key_id = %e.key_id, "ApiKeyIssued without a 32-byte hex hash, ignored");
                return Ok(KeyChange::Unchanged);
            };
            let issued_at = DateTime::<Utc>::from_timestamp_millis(e.meta.occurred_at);
            let issued = issue(
                conn,
                e.key_id,
                e.meta.tenant_id,
                &hash,
                &e.key_prefix,
                issued_at,
            )
            .await?;
            Ok(if issued {
                KeyChange::Issued
            } else {
                KeyChange::Unchanged
            })
        }
        Event::ApiKeyRevoked(e) => Ok(if revoke(conn, e.key_id).await? {
            KeyChange::Revoked
        } else {
            KeyChange::Unchanged
        }),
        _ => Ok(KeyChange::Unchanged),
    }
}

/// Records a key; `false` when its id or hash is known already.
pub async fn issue(
    conn: &mut AsyncPgConnection,
    key_id: Uuid,
    tenant_id: Uuid,
    key_sha256: &[u8],
    key_prefix: &str,
    issued_at: Option<DateTime<Utc>>,
) -> Result<bool, Error> {
    let inserted = diesel::insert_into(api_key_directory::table)
        .values((
            api_key_directory::key_id.eq(key_id),
            api_key_directory::tenant_id.eq(tenant_id),
            api_key_directory::key_sha256.eq(key_sha256),
            api_key_directory::key_prefix.eq(key_prefix),
            api_key_directory::issued_at.eq(issued_at),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// Marks the key revoked, stamped with the database's clock; `false` when it is unknown or was
/// revoked before.
pub async fn revoke(conn: &mut AsyncPgConnection, key_id: Uuid) -> Result<bool, Error> {
    let updated = diesel::update(
        api_key_directory::table
            .filter(api_key_directory::key_id.eq(key_id))
            .filter(api_key_directory::revoked_at.is_null()),
    )
    .set(api_key_directory::revoked_at.eq(now))
    .execute(conn)
    .await?;
    Ok(updated == 1)
}

/// The owner of the active key whose text is `key`.
pub async fn owner_of(conn: &mut AsyncPgConnection, key: &str) -> Result<Option<KeyOwner>, Error> {
    let hash = Sha256::digest(key.as_bytes());
    let found: Option<(Uuid, Uuid)> = api_key_directory::table
        .filter(api_key_directory::key_sha256.eq(hash.as_slice()))
        .filter(api_key_directory::revoked_at.is_null())
        .select((api_key_directory::key_id, api_key_directory::tenant_id))
        .first(conn)
        .await
        .optional()?;
    Ok(found.map(|(key_id, tenant_id)| KeyOwner { key_id, tenant_id }))
}

/// Whether key `key_id` is `tenant_id`'s and active.
pub async fn is_active(
    conn: &mut AsyncPgConnection,
    key_id: Uuid,
    tenant_id: Uuid,
) -> Result<bool, Error> {
    let found: Option<Uuid> = api_key_directory::table
        .filter(api_key_directory::key_id.eq(key_id))
        .filter(api_key_directory::tenant_id.eq(tenant_id))
        .filter(api_key_directory::revoked_at.is_null())
        .select(api_key_directory::key_id)
        .first(conn)
        .await
        .optional()?;
    Ok(found.is_some())
}

/// Keys revoked in the last `within_secs` seconds by the database's clock.
pub async fn revoked_since(
    conn: &mut AsyncPgConnection,
    within_secs: i64,
) -> Result<Vec<KeyOwner>, Error> {
    let since = (now.into_sql::<Timestamptz>() - IntervalDsl::seconds(within_secs)).nullable();
    let rows: Vec<(Uuid, Uuid)> = api_key_directory::table
        .filter(api_key_directory::revoked_at.gt(since))
        .select((api_key_directory::key_id, api_key_directory::tenant_id))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(key_id, tenant_id)| KeyOwner { key_id, tenant_id })
        .collect())
}
