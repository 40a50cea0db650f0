//! Tenant administration: creation with a first key, key rotation and revocation, limits.

use diesel_async::AsyncConnection;
use uuid::Uuid;

use super::credentials::new_api_key;
use super::{ServiceError, Services};
use crate::store::{self, TenantRow};

/// Limits to set; `None` leaves a limit as it is, `Some(None)` removes it.
#[derive(Debug, Clone, Default)]
pub struct LimitsPatch {
    pub max_active_tasks: Option<Option<i32>>,
    pub submissions_per_minute: Option<Option<i32>>,
    pub allowed_priorities: Option<Option<Vec<String>>>,
}

impl LimitsPatch {
    fn apply_to(self, tenant: &mut TenantRow) {
        if let Some(v) = self.max_active_tasks {
            tenant.max_active_tasks = v;
        }
        if let Some(v) = self.submissions_per_minute {
            tenant.submissions_per_minute = v;
        }
        if let Some(v) = self.allowed_priorities {
            tenant.allowed_priorities = v;
        }
    }
}

/// A key as issued: the secret is in `key` and is never retrievable again.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    pub key_id: Uuid,
    pub key: String,
    pub prefix: String,
}

pub async fn create_tenant(
    services: &Services,
    name: String,
    limits: LimitsPatch,
) -> Result<(TenantRow, IssuedKey), ServiceError> {
    let mut tenant = TenantRow {
        id: Uuid::now_v7(),
        name,
        max_active_tasks: None,
        submissions_per_minute: None,
        allowed_priorities: None,
        created_at: services.clock.now(),
    };
    limits.apply_to(&mut tenant);
    let mut conn = services.db.get().await?;
    conn.transaction::<_, ServiceError, _>(async move |conn| {
        store::insert_tenant(conn, &tenant).await?;
        let key = issue_key(conn, tenant.id).await?;
        Ok((tenant, key))
    })
    .await
}

pub async fn add_key(services: &Services, tenant_id: Uuid) -> Result<IssuedKey, ServiceError> {
    let mut conn = services.db.get().await?;
    store::get_tenant(&mut conn, tenant_id)
        .await?
        .ok_or(ServiceError::TenantNotFound)?;
    issue_key(&mut conn, tenant_id).await
}

pub async fn revoke_key(
    services: &Services,
    tenant_id: Uuid,
    key_id: Uuid,
) -> Result<(), ServiceError> {
    let mut conn = services.db.get().await?;
    if store::revoke_api_key(&mut conn, tenant_id, key_id).await? {
        Ok(())
    } else {
        Err(ServiceError::KeyNotFound)
    }
}

pub async fn update_limits(
    services: &Services,
    tenant_id: Uuid,
    patch: LimitsPatch,
) -> Result<TenantRow, ServiceError> {
    let mut conn = services.db.get().await?;
    conn.transaction::<_, ServiceError, _>(async move |conn| {
        // Exclusive: in-flight submissions finish first, new ones wait, so the recount below
        // sees every task they create.
        let mut tenant = store::lock_tenant_exclusive(conn, tenant_id)
            .await?
            .ok_or(ServiceError::TenantNotFound)?;
        patch.apply_to(&mut tenant);
        store::update_tenant(conn, &tenant).await?;
        // Unlimited tenants' submissions do not maintain the counter; make it true again.
        store::recount_tenant_active_tasks(conn, tenant_id).await?;
        Ok(tenant)
    })
    .await
}

pub async fn tenant_for_key(
    services: &Services,
    key: &str,
) -> Result<Option<TenantRow>, ServiceError> {
    let mut conn = services.db.get().await?;
    Ok(store::tenant_by_key_hash(&mut conn, &super::credentials::hash_key(key)).await?)
}

async fn issue_key(conn: &mut store::Conn, tenant_id: Uuid) -> Result<IssuedKey, ServiceError> {
    let (key, hash, prefix) = new_api_key();
    let key_id = Uuid::now_v7();
    store::insert_api_key(conn, key_id, tenant_id, &hash, &prefix).await?;
    Ok(IssuedKey {
        key_id,
        key,
        prefix,
    })
}
