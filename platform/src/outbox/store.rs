//! The relay's statements on the outbox log, its retention, and the backlog `/metrics` reads;
//! apart from the relay's loop so that the SQL of a pass (turn, read, record) reads in one place.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::dsl::{max, sql};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Double, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::error::OutboxError;
use super::publish::BATCH;
use super::table::{OutboxRow, outbox, outbox_published};
use crate::db::prepared;

/// Any fixed number; every relay of one database agrees on it (one pass at a time). The
/// writers' lock (shared by writers, taken exclusively for an instant by `settled_up_to`,
/// platform/migrations) is the next number.
const RELAY_LOCK: i64 = 0x6f75_7462_6f78_0001;

/// Takes this database's relay turn for the caller's transaction; `false` when another relay
/// is in a pass. Also bounds how long a stalled holder keeps it. One round trip.
pub async fn take_relay_turn(
    conn: &mut AsyncPgConnection,
    stall_limit: Duration,
) -> Result<bool, OutboxError> {
    let stall_ms = stall_limit.as_millis().max(1000).to_string();
    // The text is constant (the lock is a constant), so it is prepared once per connection.
    Ok(prepared(diesel::select(
        sql::<Bool>("set_config('idle_in_transaction_session_timeout', ")
            .bind::<Text, _>(stall_ms)
            .sql(&format!(
                ", true) IS NOT NULL AND pg_try_advisory_xact_lock({RELAY_LOCK})"
            )),
    ))
    .get_result(conn)
    .await?)
}

/// The highest id published so far (0 before the first pass).
pub async fn published_up_to(conn: &mut AsyncPgConnection) -> Result<i64, OutboxError> {
    Ok(outbox_published::table
        .select(max(outbox_published::up_to))
        .first::<Option<i64>>(conn)
        .await?
        .unwrap_or(0))
}

/// The oldest rows after `position`, in id order (commit order per key), settled or not.
pub async fn read_after(
    conn: &mut AsyncPgConnection,
    position: i64,
    limit: i64,
) -> Result<Vec<OutboxRow>, OutboxError> {
    Ok(outbox::table
        .filter(outbox::id.gt(position))
        .filter(outbox::internal.eq(false))
        .order(outbox::id.asc())
        .limit(limit)
        .select(OutboxRow::as_select())
        .load(conn)
        .await?)
}

/// Up to which id the log is settled: every row up to it has committed or rolled back, none
/// can still appear (migration `00000000000005_outbox_fence`). Waits for the appends in flight
/// of ids up to it, then lets writers go on. Must run outside any transaction of the caller's:
/// the lock it takes for an instant is held until the transaction it runs in ends.
pub async fn settled_up_to(conn: &mut AsyncPgConnection) -> Result<i64, OutboxError> {
    Ok(
        prepared(diesel::select(sql::<BigInt>("taskflow_outbox_settled()")))
            .get_result(conn)
            .await?,
    )
}

/// The first [`BATCH`] rows no relay has published yet, oldest first, up to `settled` (see
/// [`settled_up_to`]): [`read_after`] the published position, in one statement. Its text is
/// constant, the batch written into it, so PostgreSQL plans it once per connection: with the
/// limit as a parameter it chose a fresh custom plan on every pass (0.1 ms of planning per task
/// at 100 single submissions/s).
pub async fn claim_unpublished(
    conn: &mut AsyncPgConnection,
    settled: i64,
) -> Result<Vec<OutboxRow>, OutboxError> {
    Ok(
        prepared(diesel::sql_query(claim_unpublished_sql()).bind::<BigInt, _>(settled))
            .load(conn)
            .await?,
    )
}

fn claim_unpublished_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "SELECT id, event_id, event_type, body, destination, reason, traceparent, tracestate \
             FROM outbox WHERE id > (SELECT COALESCE(max(up_to), 0) FROM outbox_published) \
             AND id <= $1 AND NOT internal ORDER BY id LIMIT {BATCH}"
        )
    })
}

/// Records that every row up to `up_to` is published: one row per pass, not one per event.
pub async fn mark_published(conn: &mut AsyncPgConnection, up_to: i64) -> Result<(), OutboxError> {
    diesel::insert_into(outbox_published::table)
        .values(outbox_published::up_to.eq(up_to))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// Retention of the log: deletes up to `limit` published rows written before `cut_off`, and
/// the pass records they leave behind (never the newest, which is the position). Returns how
/// many events went. The only delete the table's append-only trigger lets through.
pub fn delete_published_before(
    conn: &mut AsyncPgConnection,
    cut_off: DateTime<Utc>,
    limit: i64,
) -> crate::maintenance::BoxFuture<'_, Result<usize, diesel::result::Error>> {
    delete_published_before_keeping(conn, cut_off, limit, &[])
}

/// [`delete_published_before`], except that events of the `kept` types stay for good: a service
/// whose projections are rebuilt from its log keeps the events they need (svc-scheduler its
/// schedules' lifecycle), and lets the rest (triggers, announcements) go by time.
pub fn delete_published_before_keeping<'a>(
    conn: &'a mut AsyncPgConnection,
    cut_off: DateTime<Utc>,
    limit: i64,
    kept: &'static [&'static str],
) -> crate::maintenance::BoxFuture<'a, Result<usize, diesel::result::Error>> {
    Box::pin(conn.transaction(async move |conn| {
        diesel::sql_query("SET LOCAL taskflow.retention = 'on'")
            .execute(conn)
            .await?;
        let position: Option<i64> = outbox_published::table
            .select(max(outbox_published::up_to))
            .first(conn)
            .await?;
        let Some(position) = position else {
            return Ok(0);
        };
        let oldest: Vec<i64> = outbox::table
            .filter(outbox::id.le(position))
            .filter(outbox::created_at.lt(cut_off))
            .filter(outbox::event_type.ne_all(kept))
            .select(outbox::id)
            .order(outbox::id)
            .limit(limit)
            .load(conn)
            .await?;
        let deleted = if oldest.is_empty() {
            0
        } else {
            diesel::delete(outbox::table.filter(outbox::id.eq_any(&oldest)))
                .execute(conn)
                .await?
        };
        diesel::delete(
            outbox_published::table
                .filter(outbox_published::up_to.lt(position))
                .filter(outbox_published::published_at.lt(cut_off)),
        )
        .execute(conn)
        .await?;
        Ok(deleted)
    }))
}

/// Unpublished rows and the age of the oldest, in seconds.
pub async fn backlog(conn: &mut AsyncPgConnection) -> Result<(i64, f64), OutboxError> {
    let position = published_up_to(conn).await?;
    Ok(outbox::table
        .filter(outbox::id.gt(position))
        .filter(outbox::internal.eq(false))
        .select((
            sql::<BigInt>("count(*)"),
            sql::<Double>("COALESCE(EXTRACT(EPOCH FROM now() - min(created_at))::float8, 0)"),
        ))
        .first(conn)
        .await?)
}
