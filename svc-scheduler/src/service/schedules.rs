//! Create, read and delete schedules, and read their occurrences. A schedule of another tenant
//! is missing, exactly like one that does not exist.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{ServiceError, Services, state_row};
use crate::domain::definition::Definition;
use crate::store::{self, OccurrenceRow, ScheduleRow};

/// Stores a new schedule, planned from now. Nothing is stored unless every rule holds.
pub async fn create(
    services: &Services,
    tenant_id: Uuid,
    definition: Definition,
) -> Result<ScheduleRow, ServiceError> {
    let now = services.clock.now();
    let model = definition
        .check(now, services.max_per_second)
        .map_err(ServiceError::Invalid)?;
    let id = Uuid::now_v7();
    let row = state_row(
        id,
        tenant_id,
        &definition,
        &model,
        definition.anchor(now),
        now,
    );
    let mut conn = services.pool.get().await?;
    store::insert_schedule(&mut conn, &row).await?;
    Ok(row)
}

/// A page of the tenant's schedules after `after`, oldest first.
pub async fn list(
    services: &Services,
    tenant_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ScheduleRow>, ServiceError> {
    let mut conn = services.pool.get().await?;
    Ok(store::list_schedules(&mut conn, tenant_id, after, limit).await?)
}

pub async fn get(
    services: &Services,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<ScheduleRow, ServiceError> {
    let mut conn = services.pool.get().await?;
    store::get_schedule(&mut conn, tenant_id, id)
        .await?
        .ok_or(ServiceError::NotFound(id))
}

/// Deletes the schedule and its occurrences.
pub async fn delete(services: &Services, tenant_id: Uuid, id: Uuid) -> Result<(), ServiceError> {
    let mut conn = services.pool.get().await?;
    if store::delete_schedule(&mut conn, tenant_id, id).await? {
        Ok(())
    } else {
        Err(ServiceError::NotFound(id))
    }
}

/// A page of the schedule's occurrences before `before`, newest first.
pub async fn occurrences(
    services: &Services,
    tenant_id: Uuid,
    id: Uuid,
    before: Option<DateTime<Utc>>,
    limit: i64,
) -> Result<Vec<OccurrenceRow>, ServiceError> {
    let mut conn = services.pool.get().await?;
    store::get_schedule(&mut conn, tenant_id, id)
        .await?
        .ok_or(ServiceError::NotFound(id))?;
    Ok(store::list_occurrences(&mut conn, id, before, limit).await?)
}
