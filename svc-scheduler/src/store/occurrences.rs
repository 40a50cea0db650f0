//! Occurrences: one row per (schedule, nominal instant). The primary key makes a second attempt
//! to record an instant fail instead of firing twice.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::schema::{occurrences, schedules};
use super::{Conn, OccurrenceRow, StoreError};
use crate::domain::occurrence::Outcome;

pub async fn insert_occurrences(conn: &mut Conn, rows: &[OccurrenceRow]) -> Result<(), StoreError> {
    for chunk in rows.chunks(5_000) {
        diesel::insert_into(occurrences::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// The schedule's latest triggered occurrence: (task id, ended?).
pub async fn last_run(
    conn: &mut Conn,
    schedule_id: Uuid,
) -> Result<Option<(Uuid, bool)>, StoreError> {
    let found: Option<(Option<Uuid>, bool)> = occurrences::table
        .filter(occurrences::schedule_id.eq(schedule_id))
        .filter(occurrences::task_id.is_not_null())
        .order(occurrences::nominal_time.desc())
        .select((occurrences::task_id, occurrences::task_ended))
        .first(conn)
        .await
        .optional()?;
    Ok(found.and_then(|(task, ended)| task.map(|t| (t, ended))))
}

/// Marks these tasks' runs ended; returns how many were ours.
pub async fn mark_task_ended(conn: &mut Conn, task_ids: &[Uuid]) -> Result<usize, StoreError> {
    Ok(diesel::update(
        occurrences::table
            .filter(occurrences::task_id.eq_any(task_ids))
            .filter(occurrences::task_ended.eq(false)),
    )
    .set(occurrences::task_ended.eq(true))
    .execute(conn)
    .await?)
}

/// Records that svc-tasks refused the trigger of this task's occurrence: no task will run, so
/// the run counts as ended, and the occurrence says why (`reason`, as
/// [`crate::domain::occurrence::refused_reason`] words it). Returns how many were ours.
pub async fn mark_trigger_refused(
    conn: &mut Conn,
    task_id: Uuid,
    reason: &str,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        occurrences::table
            .filter(occurrences::task_id.eq(task_id))
            .filter(occurrences::outcome.eq(Outcome::Triggered.as_str())),
    )
    .set((
        occurrences::outcome.eq(Outcome::Refused.as_str()),
        occurrences::reason.eq(reason),
        occurrences::task_ended.eq(true),
    ))
    .execute(conn)
    .await?)
}

/// Releases schedules that waited for one of these tasks: they are due again now.
pub async fn schedules_waiting_for(
    conn: &mut Conn,
    task_ids: &[Uuid],
) -> Result<usize, StoreError> {
    Ok(
        diesel::update(schedules::table.filter(schedules::waiting_for_task.eq_any(task_ids)))
            .set((
                schedules::waiting_for_task.eq(None::<Uuid>),
                schedules::next_fire_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await?,
    )
}

pub async fn list_occurrences(
    conn: &mut Conn,
    schedule_id: Uuid,
    before: Option<chrono::DateTime<chrono::Utc>>,
    limit: i64,
) -> Result<Vec<OccurrenceRow>, StoreError> {
    let mut query = occurrences::table
        .filter(occurrences::schedule_id.eq(schedule_id))
        .order(occurrences::nominal_time.desc())
        .limit(limit)
        .select(OccurrenceRow::as_select())
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(occurrences::nominal_time.lt(before));
    }
    Ok(query.load(conn).await?)
}

/// Which of these instants of the schedule have an occurrence already.
pub async fn recorded_instants(
    conn: &mut Conn,
    schedule_id: Uuid,
    instants: &[chrono::DateTime<chrono::Utc>],
) -> Result<std::collections::HashSet<chrono::DateTime<chrono::Utc>>, StoreError> {
    Ok(occurrences::table
        .filter(occurrences::schedule_id.eq(schedule_id))
        .filter(occurrences::nominal_time.eq_any(instants))
        .select(occurrences::nominal_time)
        .load(conn)
        .await?
        .into_iter()
        .collect())
}
