//! Tenant administration: creation with a first key, limits. Keys themselves: `keys`.

use diesel_async::AsyncConnection;
use uuid::Uuid;

use super::keys::{self, IssuedKey, Stamp};
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

pub async fn create_tenant(
    services: &Services,
    name: String,
    limits: LimitsPatch,
    correlation_id: &str,
) -> Result<(TenantRow, IssuedKey), ServiceError> {
    let stamp = Stamp::new(services, correlation_id);
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
    let created = conn
        .transaction::<_, ServiceError, _>(async move |conn| {
            store::insert_tenant(conn, &tenant).await?;
            let key = keys::issue(conn, tenant.id, &stamp).await?;
            Ok((tenant, key))
        })
        .await?;
    services.outbox_ready.notify_one();
    Ok(created)
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
