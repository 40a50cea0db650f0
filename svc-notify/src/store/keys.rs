//! Tenants' API keys as projected from the keys topic (hashes only), and the token secret.

use chrono::{DateTime, Utc};
use diesel::dsl::now;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::schema::{api_keys, token_secret as secret_table};
use super::{Conn, StoreError};

pub async fn issue_key(
    conn: &mut Conn,
    key_id: Uuid,
    tenant_id: Uuid,
    key_sha256: &[u8],
    key_prefix: &str,
    issued_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::insert_into(api_keys::table)
        .values((
            api_keys::key_id.eq(key_id),
            api_keys::tenant_id.eq(tenant_id),
            api_keys::key_sha256.eq(key_sha256),
            api_keys::key_prefix.eq(key_prefix),
            api_keys::issued_at.eq(issued_at),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks the key revoked, stamped with the database's clock (the fan-out looks for recent
/// revocations by that clock).
pub async fn revoke_key(conn: &mut Conn, key_id: Uuid) -> Result<(), StoreError> {
    diesel::update(
        api_keys::table
            .filter(api_keys::key_id.eq(key_id))
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// (key id, tenant id) of the active key with this hash.
pub async fn key_for_hash(
    conn: &mut Conn,
    key_sha256: &[u8],
) -> Result<Option<(Uuid, Uuid)>, StoreError> {
    Ok(api_keys::table
        .filter(api_keys::key_sha256.eq(key_sha256))
        .filter(api_keys::revoked_at.is_null())
        .select((api_keys::key_id, api_keys::tenant_id))
        .first(conn)
        .await
        .optional()?)
}

pub async fn key_is_active(
    conn: &mut Conn,
    key_id: Uuid,
    tenant_id: Uuid,
) -> Result<bool, StoreError> {
    let found: Option<Uuid> = api_keys::table
        .filter(api_keys::key_id.eq(key_id))
        .filter(api_keys::tenant_id.eq(tenant_id))
        .filter(api_keys::revoked_at.is_null())
        .select(api_keys::key_id)
        .first(conn)
        .await
        .optional()?;
    Ok(found.is_some())
}

/// Keys revoked in the last `within_secs` seconds: (key id, tenant id).
pub async fn revoked_since(
    conn: &mut Conn,
    within_secs: i64,
) -> Result<Vec<(Uuid, Uuid)>, StoreError> {
    Ok(api_keys::table
        .filter(api_keys::revoked_at.gt(diesel::dsl::sql::<
            diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
        >(&format!(
            "now() - interval '{within_secs} seconds'"
        ))))
        .select((api_keys::key_id, api_keys::tenant_id))
        .load(conn)
        .await?)
}

/// The database's token secret; `candidate` becomes it if there is none yet.
pub async fn token_secret(conn: &mut Conn, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
    diesel::insert_into(secret_table::table)
        .values((
            secret_table::id.eq(true),
            secret_table::secret.eq(candidate),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(secret_table::table
        .select(secret_table::secret)
        .first(conn)
        .await?)
}
