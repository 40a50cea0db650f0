//! What the maintenance room deletes in this service's database.
//!
//! - Occurrences fired before the cut-off whose run is over (the task ended, or none was
//!   started: skipped, missed, refused). An occurrence whose task still runs stays, however
//!   old: the overlap policy asks for it. SQL text: the builder has no row-value `IN` over a
//!   limited subquery.
//! - The log (the outbox), published rows only: a schedule's lifecycle events
//!   ([`super::LIFECYCLE`]) stay as long as the schedule exists, since its row is rebuilt from
//!   them, and go once its deletion is past the retention; the rest (what became of its
//!   instants, its state records) goes by time, as the occurrences do (`startup::cleaners`
//!   gives both the same retention).

use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, BigInt, Text, Timestamptz};
use diesel_async::{AsyncConnection, RunQueryDsl};
use taskflow_platform::maintenance::BoxFuture;

use super::Conn;

/// Deletes up to `limit` finished occurrences fired before `cut_off`; returns how many.
pub fn delete_occurrences_before(
    conn: &mut Conn,
    cut_off: DateTime<Utc>,
    limit: i64,
) -> BoxFuture<'_, Result<usize, diesel::result::Error>> {
    Box::pin(async move {
        diesel::sql_query(
            "DELETE FROM occurrences WHERE (schedule_id, nominal_time) IN ( \
               SELECT schedule_id, nominal_time FROM occurrences \
               WHERE fired_at < $1 AND (task_ended OR outcome <> 'triggered') LIMIT $2)",
        )
        .bind::<Timestamptz, _>(cut_off)
        .bind::<BigInt, _>(limit)
        .execute(conn)
        .await
    })
}

/// Deletes up to `limit` published log rows written before `cut_off`, except the lifecycle
/// events of schedules that still exist; returns how many. A deleted schedule's lifecycle goes
/// once its deletion is older than the cut-off: nothing is rebuilt from it any more.
pub fn delete_outbox_before(
    conn: &mut Conn,
    cut_off: DateTime<Utc>,
    limit: i64,
) -> BoxFuture<'_, Result<usize, diesel::result::Error>> {
    Box::pin(async move {
        let decided = taskflow_platform::outbox::delete_published_before_keeping(
            conn,
            cut_off,
            limit,
            &super::LIFECYCLE,
        )
        .await?;
        let left = limit - decided as i64;
        if left <= 0 {
            return Ok(decided);
        }
        Ok(decided + delete_deleted_lives(conn, cut_off, left).await?)
    })
}

/// The lifecycle events of schedules deleted before `cut_off`, published ones only (the
/// deletion too), up to `limit`. The log is append-only: its trigger lets a delete through
/// only in a transaction that says it is retention.
async fn delete_deleted_lives(
    conn: &mut Conn,
    cut_off: DateTime<Utc>,
    limit: i64,
) -> Result<usize, diesel::result::Error> {
    conn.transaction(async move |conn| {
        diesel::sql_query("SET LOCAL taskflow.retention = 'on'")
            .execute(conn)
            .await?;
        diesel::sql_query(
            "DELETE FROM outbox WHERE id IN ( \
               SELECT o.id FROM outbox o \
               WHERE o.event_type = ANY($1) \
                 AND o.id <= (SELECT COALESCE(max(up_to), 0) FROM outbox_published) \
                 AND o.body->>'schedule_id' IN ( \
                   SELECT d.body->>'schedule_id' FROM outbox d \
                   WHERE d.event_type = 'ScheduleDeleted' AND d.created_at < $2 \
                     AND d.id <= (SELECT COALESCE(max(up_to), 0) FROM outbox_published)) \
               LIMIT $3)",
        )
        .bind::<Array<Text>, _>(&super::LIFECYCLE[..])
        .bind::<Timestamptz, _>(cut_off)
        .bind::<BigInt, _>(limit)
        .execute(conn)
        .await
    })
    .await
}
