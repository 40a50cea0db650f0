//! Create, read and delete schedules, and read their occurrences. A schedule of another tenant
//! is missing, exactly like one that does not exist. Creating and deleting announce it
//! (ScheduleCreated, ScheduleDeleted and the schedule's state) in the same transaction.

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use uuid::Uuid;

use super::outgoing::Outgoing;
use super::{ServiceError, Services, readable, state_row};
use crate::domain::definition::Definition;
use crate::domain::lifecycle::Lifecycle;
use crate::store::{self, OccurrenceRow, ScheduleRow};

/// Stores a new schedule, planned from now. Nothing is stored (or announced) unless every rule
/// holds.
pub async fn create(
    services: &Services,
    tenant_id: Uuid,
    definition: Definition,
    correlation: &str,
) -> Result<ScheduleRow, ServiceError> {
    let now = services.now();
    let definition = definition.canonical();
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
    let mut out = Outgoing::new(&services.producer);
    out.announce(Lifecycle::Created, &row, &definition, now, correlation);
    let mut conn = services.pool.get().await?;
    conn.transaction::<_, ServiceError, _>(async |conn| {
        store::insert_schedule(conn, &row).await?;
        out.append(conn).await?;
        Ok(())
    })
    .await?;
    services.outbox_ready.notify_one();
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

/// Deletes the schedule and its occurrences; its last events carry the settings it had.
pub async fn delete(
    services: &Services,
    tenant_id: Uuid,
    id: Uuid,
    correlation: &str,
) -> Result<(), ServiceError> {
    let now = services.now();
    let mut out = Outgoing::new(&services.producer);
    let mut conn = services.pool.get().await?;
    conn.transaction::<_, ServiceError, _>(async move |conn| {
        // Locked first: a firer deciding it finishes before it goes, so no trigger of it is
        // committed after its ScheduleDeleted.
        let row = store::lock_schedule(conn, tenant_id, id)
            .await?
            .ok_or(ServiceError::NotFound(id))?;
        store::delete_schedule(conn, tenant_id, id).await?;
        if let Some(definition) = readable(&row) {
            out.announce(Lifecycle::Deleted, &row, &definition, now, correlation);
        }
        out.append(conn).await?;
        Ok(())
    })
    .await?;
    services.outbox_ready.notify_one();
    Ok(())
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
