//! What the maintenance room deletes in this service's database: occurrences fired before the
//! cut-off whose run is over (the task ended, or none was started: skipped, missed, refused).
//! An occurrence whose task still runs stays, however old: the overlap policy asks for it.
//! SQL text: the builder has no row-value `IN` over a limited subquery.

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
