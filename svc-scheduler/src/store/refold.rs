//! What a rebuild of the projections reads and writes: the schedules the log knows, their
//! events in log order (the platform's outbox, read here as svc-scheduler's log), and the
//! rows it puts in place of theirs. SQL text where the builder cannot say it (DISTINCT over a
//! JSON field of the log's body).
//!
//! The log is the outbox table the platform declares: no index on the schedule an event is
//! about, so every page reads the log's lifecycle rows (a rebuild is an operator's rare act;
//! a page is [`PAGE`] schedules).

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};
use diesel_async::RunQueryDsl;
use taskflow_platform::outbox::OutboxRow;
use uuid::Uuid;

use super::schema::{occurrences, schedules};
use super::{Conn, OccurrenceRow, ScheduleRow, StoreError, is_unique_violation};

/// The events that tell a schedule's life; the first four re-plan it.
pub const LIFECYCLE: [&str; 5] = [
    "ScheduleCreated",
    "ScheduleChanged",
    "SchedulePaused",
    "ScheduleResumed",
    "ScheduleDeleted",
];

/// Every event a schedule's projections are folded from: its lifecycle, its state records and
/// what became of its instants.
const FOLDED: [&str; 8] = [
    "ScheduleCreated",
    "ScheduleChanged",
    "SchedulePaused",
    "ScheduleResumed",
    "ScheduleDeleted",
    "ScheduleState",
    "ScheduledTaskTriggered",
    "ScheduleOccurrenceSkipped",
];

/// Schedules refolded per page (one transaction).
pub const PAGE: i64 = 50;

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = Text)]
    id: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The log's newest position: a job refolds the schedules the log knew up to it.
pub async fn log_position(conn: &mut Conn) -> Result<i64, StoreError> {
    use taskflow_platform::outbox::outbox;
    Ok(outbox::table
        .select(diesel::dsl::max(outbox::id))
        .first::<Option<i64>>(conn)
        .await?
        .unwrap_or(0))
}

/// How many schedules the log tells the life of, up to `bound`.
pub async fn count_logged_schedules(conn: &mut Conn, bound: i64) -> Result<i64, StoreError> {
    let found: Count = diesel::sql_query(
        "SELECT count(DISTINCT body->>'schedule_id') AS n FROM outbox \
         WHERE id <= $1 AND destination IS NULL AND event_type = ANY($2)",
    )
    .bind::<BigInt, _>(bound)
    .bind::<Array<Text>, _>(&LIFECYCLE[..])
    .get_result(conn)
    .await?;
    Ok(found.n)
}

/// The next `limit` schedules (by id) after `after` whose life the log tells up to `bound`.
pub async fn logged_schedules_after(
    conn: &mut Conn,
    bound: i64,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Uuid>, StoreError> {
    // Ids compare as their text: the lower-case hyphenated form sorts like the bytes.
    let after = after.map(|id| id.to_string()).unwrap_or_default();
    let ids: Vec<Id> = diesel::sql_query(
        "SELECT DISTINCT body->>'schedule_id' AS id FROM outbox \
         WHERE id <= $1 AND destination IS NULL AND event_type = ANY($2) \
           AND body->>'schedule_id' > $3 \
         ORDER BY 1 LIMIT $4",
    )
    .bind::<BigInt, _>(bound)
    .bind::<Array<Text>, _>(&LIFECYCLE[..])
    .bind::<Text, _>(after)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await?;
    Ok(ids.into_iter().filter_map(|i| i.id.parse().ok()).collect())
}

/// Locks these schedules' rows (those that exist), in id order: the firer passes them by
/// (SKIP LOCKED), a change of one waits, until the caller's transaction ends.
pub async fn lock_schedules(conn: &mut Conn, ids: &[Uuid]) -> Result<(), StoreError> {
    schedules::table
        .filter(schedules::id.eq_any(ids))
        .order(schedules::id)
        .select(schedules::id)
        .for_update()
        .load::<Uuid>(conn)
        .await?;
    Ok(())
}

/// Every event of these schedules' projections, in log order (all of it, not only up to a
/// bound: the caller holds their rows, so nothing about them is being written).
pub async fn logs_of(conn: &mut Conn, ids: &[Uuid]) -> Result<Vec<OutboxRow>, StoreError> {
    let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    Ok(diesel::sql_query(
        "SELECT id, event_id, event_type, body, destination, reason, traceparent, tracestate \
         FROM outbox WHERE destination IS NULL AND event_type = ANY($1) \
           AND body->>'schedule_id' = ANY($2) ORDER BY id",
    )
    .bind::<Array<Text>, _>(&FOLDED[..])
    .bind::<Array<Text>, _>(ids)
    .load(conn)
    .await?)
}

/// Puts `row` and `occurrences` in place of what the schedule had.
pub async fn replace_schedule(
    conn: &mut Conn,
    row: &ScheduleRow,
    occurrences: &[OccurrenceRow],
) -> Result<(), StoreError> {
    diesel::insert_into(schedules::table)
        .values(row)
        .on_conflict(schedules::id)
        .do_update()
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
    diesel::delete(occurrences::table.filter(occurrences::schedule_id.eq(row.id)))
        .execute(conn)
        .await?;
    super::insert_occurrences(conn, occurrences).await
}

/// Removes a schedule the log says was deleted, with its occurrences.
pub async fn remove_schedule(conn: &mut Conn, id: Uuid) -> Result<(), StoreError> {
    diesel::delete(schedules::table.find(id))
        .execute(conn)
        .await?;
    Ok(())
}

/// Empties both projections (tests, an operator's tools): every schedule and occurrence.
pub async fn wipe_projections(conn: &mut Conn) -> Result<(), StoreError> {
    diesel::delete(occurrences::table).execute(conn).await?;
    diesel::delete(schedules::table).execute(conn).await?;
    Ok(())
}
