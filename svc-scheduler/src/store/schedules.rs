//! Schedules: written by the API, claimed by the firer (row locks, SKIP LOCKED: whoever holds a
//! schedule's row decides its next instants; nobody else can until that transaction ends).

use chrono::{DateTime, Utc};
use diesel::dsl::now;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::schema::schedules;
use super::{Conn, ScheduleRow, StoreError, is_unique_violation};

pub async fn insert_schedule(conn: &mut Conn, row: &ScheduleRow) -> Result<(), StoreError> {
    diesel::insert_into(schedules::table)
        .values(row)
        .execute(conn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::NameTaken(row.name.clone())
            } else {
                e.into()
            }
        })?;
    Ok(())
}

pub async fn update_schedule(conn: &mut Conn, row: &ScheduleRow) -> Result<(), StoreError> {
    diesel::update(schedules::table.find(row.id))
        .set(row)
        .execute(conn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::NameTaken(row.name.clone())
            } else {
                e.into()
            }
        })?;
    Ok(())
}

pub async fn get_schedule(
    conn: &mut Conn,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<ScheduleRow>, StoreError> {
    Ok(schedules::table
        .filter(schedules::id.eq(id))
        .filter(schedules::tenant_id.eq(tenant_id))
        .select(ScheduleRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// The tenant's schedule, locked for a change (waits for a firer holding it).
pub async fn lock_schedule(
    conn: &mut Conn,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<ScheduleRow>, StoreError> {
    Ok(schedules::table
        .filter(schedules::id.eq(id))
        .filter(schedules::tenant_id.eq(tenant_id))
        .select(ScheduleRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?)
}

pub async fn list_schedules(
    conn: &mut Conn,
    tenant_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ScheduleRow>, StoreError> {
    let mut query = schedules::table
        .filter(schedules::tenant_id.eq(tenant_id))
        .order(schedules::id)
        .limit(limit)
        .select(ScheduleRow::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(schedules::id.gt(after));
    }
    Ok(query.load(conn).await?)
}

pub async fn delete_schedule(
    conn: &mut Conn,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<bool, StoreError> {
    let deleted = diesel::delete(
        schedules::table
            .filter(schedules::id.eq(id))
            .filter(schedules::tenant_id.eq(tenant_id)),
    )
    .execute(conn)
    .await?;
    Ok(deleted == 1)
}

/// Schedules due now (by the database's clock), locked; those another firer holds are skipped.
pub async fn lock_due(conn: &mut Conn, limit: i64) -> Result<Vec<ScheduleRow>, StoreError> {
    Ok(schedules::table
        .filter(schedules::paused.eq(false))
        .filter(schedules::waiting_for_task.is_null())
        .filter(schedules::next_fire_at.le(now))
        .order(schedules::next_fire_at)
        .limit(limit)
        .select(ScheduleRow::as_select())
        .for_update()
        .skip_locked()
        .load(conn)
        .await?)
}

/// Moves a schedule's next look to `at` (after its decision failed).
pub async fn put_off(conn: &mut Conn, id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError> {
    diesel::update(schedules::table.find(id))
        .set(schedules::next_fire_at.eq(at))
        .execute(conn)
        .await?;
    Ok(())
}

/// When the next schedule is due (to sleep until then).
pub async fn next_fire_at(conn: &mut Conn) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(schedules::table
        .filter(schedules::paused.eq(false))
        .filter(schedules::waiting_for_task.is_null())
        .select(diesel::dsl::min(schedules::next_fire_at))
        .first(conn)
        .await?)
}
