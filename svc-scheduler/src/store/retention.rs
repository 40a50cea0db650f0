//! What the maintenance room deletes in this service's database.
//!
//! - Occurrences fired before the cut-off whose run is over (the task ended, or none was
//!   started: skipped, missed, refused). An occurrence whose task still runs stays, however
//!   old: the overlap policy asks for it. SQL text: the builder has no row-value `IN` over a
//!   limited subquery.
//! - The log (the outbox), published rows only: a schedule's lifecycle events
//!   ([`super::LIFECYCLE`]) stay for good, since its row is rebuilt from them; the rest (what
//!   became of its instants, its state records) goes by time, as the occurrences do
//!   (`startup::cleaners` gives both the same retention).

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Timestamptz};
use diesel_async::RunQueryDsl;
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

/// Deletes up to `limit` published log rows written before `cut_off`, except the schedules'
/// lifecycle events; returns how many.
pub fn delete_outbox_before(
    conn: &mut Conn,
    cut_off: DateTime<Utc>,
    limit: i64,
) -> BoxFuture<'_, Result<usize, diesel::result::Error>> {
    taskflow_platform::outbox::delete_published_before_keeping(
        conn,
        cut_off,
        limit,
        &super::LIFECYCLE,
    )
}
