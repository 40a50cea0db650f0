//! Tenants' API keys as projected from the keys topic (hashes only).

use diesel::dsl::now;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::schema::api_keys;
use super::{Conn, StoreError};

pub async fn issue_key(
    conn: &mut Conn,
    key_id: Uuid,
    tenant_id: Uuid,
    key_sha256: &[u8],
) -> Result<(), StoreError> {
    diesel::insert_into(api_keys::table)
        .values((
            api_keys::key_id.eq(key_id),
            api_keys::tenant_id.eq(tenant_id),
            api_keys::key_sha256.eq(key_sha256),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

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

/// The tenant of the active key with this hash.
pub async fn key_for_hash(conn: &mut Conn, key_sha256: &[u8]) -> Result<Option<Uuid>, StoreError> {
    Ok(api_keys::table
        .filter(api_keys::key_sha256.eq(key_sha256))
        .filter(api_keys::revoked_at.is_null())
        .select(api_keys::tenant_id)
        .first(conn)
        .await
        .optional()?)
}
