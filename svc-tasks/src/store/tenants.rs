//! Tenants and their API keys (only hashes are stored).

use super::prelude::*;

pub async fn insert_tenant(conn: &mut Conn, tenant: &TenantRow) -> Result<(), StoreError> {
    diesel::insert_into(tenants::table)
        .values(tenant)
        .execute(conn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::NameTaken(tenant.name.clone())
            } else {
                e.into()
            }
        })?;
    diesel::insert_into(tenant_usage::table)
        .values(tenant_usage::tenant_id.eq(tenant.id))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn get_tenant(conn: &mut Conn, id: Uuid) -> Result<Option<TenantRow>, StoreError> {
    Ok(tenants::table
        .find(id)
        .select(TenantRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// The tenant named `name` (names are unique), if any.
pub async fn find_tenant_by_name(
    conn: &mut Conn,
    name: &str,
) -> Result<Option<TenantRow>, StoreError> {
    Ok(tenants::table
        .filter(tenants::name.eq(name))
        .select(TenantRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// The tenant row, share-locked: submissions of one tenant proceed side by side, while a
/// change of its limits (which takes the row exclusively) waits for them and they for it.
pub async fn lock_tenant_shared(
    conn: &mut Conn,
    id: Uuid,
) -> Result<Option<TenantRow>, StoreError> {
    Ok(tenants::table
        .find(id)
        .select(TenantRow::as_select())
        .for_share()
        .first(conn)
        .await
        .optional()?)
}

pub async fn lock_tenant_exclusive(
    conn: &mut Conn,
    id: Uuid,
) -> Result<Option<TenantRow>, StoreError> {
    Ok(tenants::table
        .find(id)
        .select(TenantRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?)
}

pub async fn update_tenant(conn: &mut Conn, tenant: &TenantRow) -> Result<(), StoreError> {
    diesel::update(tenants::table.find(tenant.id))
        .set((
            tenants::max_active_tasks.eq(tenant.max_active_tasks),
            tenants::submissions_per_minute.eq(tenant.submissions_per_minute),
            tenants::allowed_priorities.eq(&tenant.allowed_priorities),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn tenant_by_key_hash(
    conn: &mut Conn,
    key_hash: &[u8],
) -> Result<Option<TenantRow>, StoreError> {
    Ok(api_keys::table
        .inner_join(tenants::table.on(tenants::id.eq(api_keys::tenant_id)))
        .filter(api_keys::key_hash.eq(key_hash))
        .filter(api_keys::revoked_at.is_null())
        .select(TenantRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Inserts a new key as announced: the caller enqueues its `ApiKeyIssued` in the same
/// transaction.
pub async fn insert_api_key(
    conn: &mut Conn,
    id: Uuid,
    tenant_id: Uuid,
    key_hash: &[u8],
    key_prefix: &str,
) -> Result<(), StoreError> {
    diesel::insert_into(api_keys::table)
        .values((
            api_keys::id.eq(id),
            api_keys::tenant_id.eq(tenant_id),
            api_keys::key_hash.eq(key_hash),
            api_keys::key_prefix.eq(key_prefix),
            api_keys::announced_at.eq(now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// An active (not revoked) key of this tenant, locked until the transaction ends.
pub async fn lock_active_api_key(
    conn: &mut Conn,
    tenant_id: Uuid,
    key_id: Uuid,
) -> Result<Option<ApiKey>, StoreError> {
    Ok(api_keys::table
        .filter(api_keys::id.eq(key_id))
        .filter(api_keys::tenant_id.eq(tenant_id))
        .filter(api_keys::revoked_at.is_null())
        .select(rows::ApiKeyRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .map(ApiKey::from))
}

/// Revokes a key the caller locked (`lock_active_api_key`).
pub async fn revoke_api_key(conn: &mut Conn, key_id: Uuid) -> Result<(), StoreError> {
    diesel::update(api_keys::table.find(key_id))
        .set(api_keys::revoked_at.eq(now))
        .execute(conn)
        .await?;
    Ok(())
}

/// Keys whose events were never written (issued before svc-tasks announced keys), oldest
/// first, locked. Keys another transaction holds are skipped: several instances starting at
/// once each take what the others do not, and one that commits first leaves nothing behind.
pub async fn lock_unannounced_api_keys(conn: &mut Conn) -> Result<Vec<ApiKey>, StoreError> {
    Ok(api_keys::table
        .filter(api_keys::announced_at.is_null())
        .order((api_keys::created_at, api_keys::id))
        .select(rows::ApiKeyRow::as_select())
        .for_update()
        .skip_locked()
        .load(conn)
        .await?
        .into_iter()
        .map(ApiKey::from)
        .collect())
}

/// The caller enqueued these keys' events in its transaction.
pub async fn mark_api_keys_announced(conn: &mut Conn, ids: &[Uuid]) -> Result<(), StoreError> {
    diesel::update(api_keys::table.filter(api_keys::id.eq_any(ids)))
        .set(api_keys::announced_at.eq(now))
        .execute(conn)
        .await?;
    Ok(())
}
