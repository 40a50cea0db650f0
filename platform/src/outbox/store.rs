//! The relay's statements on the outbox table, and the backlog `/metrics` reads; apart from
//! the relay's loop so that the SQL of a pass (turn, claim, mark) reads in one place.

use std::time::Duration;

use diesel::dsl::{now, sql};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Double};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::error::OutboxError;
use super::table::{OutboxRow, outbox};

/// Any fixed number; every relay of one database agrees on it (one pass at a time).
const RELAY_LOCK: i64 = 0x6f75_7462_6f78_0001;

/// Takes this database's relay turn for the caller's transaction; `false` when another relay
/// is in a pass. Also bounds how long a stalled holder keeps it.
pub async fn take_relay_turn(
    conn: &mut AsyncPgConnection,
    stall_limit: Duration,
) -> Result<bool, OutboxError> {
    diesel::sql_query(format!(
        "SET LOCAL idle_in_transaction_session_timeout = {}",
        stall_limit.as_millis().max(1000)
    ))
    .execute(conn)
    .await?;
    Ok(diesel::select(sql::<Bool>(&format!(
        "pg_try_advisory_xact_lock({RELAY_LOCK})"
    )))
    .get_result(conn)
    .await?)
}

/// Oldest unpublished rows, in commit order per key.
pub async fn claim_unpublished(
    conn: &mut AsyncPgConnection,
    limit: i64,
) -> Result<Vec<OutboxRow>, OutboxError> {
    Ok(outbox::table
        .filter(outbox::published_at.is_null())
        .order(outbox::id.asc())
        .limit(limit)
        .select(OutboxRow::as_select())
        .for_update()
        .load(conn)
        .await?)
}

pub async fn mark_published(conn: &mut AsyncPgConnection, ids: &[i64]) -> Result<(), OutboxError> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::update(outbox::table.filter(outbox::id.eq_any(ids)))
        .set(outbox::published_at.eq(now))
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes up to `limit` rows published longer than `older_than` ago; returns how many. A
/// published row is only history (forensics, tests): the relay never reads it again.
pub async fn prune_published(
    conn: &mut AsyncPgConnection,
    older_than: Duration,
    limit: i64,
) -> Result<usize, OutboxError> {
    // Judged by the database's clock, like the published_at it compares with.
    let age_ms = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
    let oldest: Vec<i64> = outbox::table
        .filter(
            sql::<Bool>("published_at < now() - ")
                .bind::<BigInt, _>(age_ms)
                .sql(" * interval '1 millisecond'"),
        )
        .select(outbox::id)
        .order(outbox::id)
        .limit(limit)
        .load(conn)
        .await?;
    if oldest.is_empty() {
        return Ok(0);
    }
    Ok(
        diesel::delete(outbox::table.filter(outbox::id.eq_any(&oldest)))
            .execute(conn)
            .await?,
    )
}

/// Unpublished rows and the age of the oldest, in seconds.
pub async fn backlog(conn: &mut AsyncPgConnection) -> Result<(i64, f64), OutboxError> {
    Ok(outbox::table
        .filter(outbox::published_at.is_null())
        .select((
            sql::<BigInt>("count(*)"),
            sql::<Double>("COALESCE(EXTRACT(EPOCH FROM now() - min(created_at))::float8, 0)"),
        ))
        .first(conn)
        .await?)
}
