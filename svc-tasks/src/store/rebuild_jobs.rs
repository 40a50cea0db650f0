//! Projection rebuild jobs: their rows, and the two advisory locks that make "one job at a time"
//! and "a job whose runner is gone shows as failed" hold across instances and restarts.
//!
//! - The *runner lock* is a session-level lock held by the connection that runs the job, for the
//!   job's whole life. PostgreSQL releases it when that session ends, also when the process is
//!   killed, so "the lock is free" means "no job is running".
//! - The *control lock* is a transaction-level lock taken by everything that starts a job, ends
//!   one, or decides that a `running` row is orphaned. Under it, the runner lock is held exactly
//!   while a live job's row says `running`.
//!
//! Both use the two-key form of the advisory lock functions, a key space of their own (the
//! one-key form carries idempotency keys and migrations).

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Bool;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::schema::{rebuild_jobs, task_events};
use super::{Conn, StoreError};

/// "tf" + lock number, for `pg_advisory_*(int, int)`.
const LOCK_CLASS: i32 = 0x7466;
const RUNNER_LOCK: i32 = 1;
const CONTROL_LOCK: i32 = 2;

pub const RUNNING: &str = "running";
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = rebuild_jobs, check_for_backend(diesel::pg::Pg))]
pub struct RebuildJobRow {
    pub id: Uuid,
    pub state: String,
    pub total_tasks: Option<i64>,
    pub done_tasks: i64,
    pub upto: Option<Uuid>,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub owner: String,
}

fn lock_call(function: &str, lock: i32) -> diesel::expression::SqlLiteral<Bool> {
    sql::<Bool>(&format!("{function}({LOCK_CLASS}, {lock})"))
}

/// Waits for the control lock, held until the transaction ends. Call inside a transaction.
pub async fn lock_rebuild_control(conn: &mut Conn) -> Result<(), StoreError> {
    diesel::sql_query(format!(
        "SELECT pg_advisory_xact_lock({LOCK_CLASS}, {CONTROL_LOCK})"
    ))
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes the runner lock for this session (it outlives transactions); false if a job holds it.
pub async fn try_hold_runner_lock(conn: &mut Conn) -> Result<bool, StoreError> {
    Ok(
        diesel::select(lock_call("pg_try_advisory_lock", RUNNER_LOCK))
            .get_result(conn)
            .await?,
    )
}

/// Gives the runner lock back (the session keeps running).
pub async fn release_runner_lock(conn: &mut Conn) -> Result<bool, StoreError> {
    Ok(diesel::select(lock_call("pg_advisory_unlock", RUNNER_LOCK))
        .get_result(conn)
        .await?)
}

/// True when no session holds the runner lock, i.e. no job runs anywhere. Probes with a
/// transaction-level lock, so nothing stays held; call under the control lock.
pub async fn runner_lock_free(conn: &mut Conn) -> Result<bool, StoreError> {
    Ok(
        diesel::select(lock_call("pg_try_advisory_xact_lock", RUNNER_LOCK))
            .get_result(conn)
            .await?,
    )
}

pub async fn insert_rebuild(conn: &mut Conn, job: &RebuildJobRow) -> Result<(), StoreError> {
    diesel::insert_into(rebuild_jobs::table)
        .values(job)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn get_rebuild(conn: &mut Conn, id: Uuid) -> Result<Option<RebuildJobRow>, StoreError> {
    Ok(rebuild_jobs::table
        .find(id)
        .select(RebuildJobRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

pub async fn running_rebuild(conn: &mut Conn) -> Result<Option<RebuildJobRow>, StoreError> {
    Ok(rebuild_jobs::table
        .filter(rebuild_jobs::state.eq(RUNNING))
        .select(RebuildJobRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Marks every `running` job failed with `error`; how many there were.
pub async fn fail_running_rebuilds(conn: &mut Conn, error: &str) -> Result<usize, StoreError> {
    Ok(
        diesel::update(rebuild_jobs::table.filter(rebuild_jobs::state.eq(RUNNING)))
            .set((
                rebuild_jobs::state.eq(FAILED),
                rebuild_jobs::error.eq(error),
                rebuild_jobs::finished_at.eq(diesel::dsl::now),
                rebuild_jobs::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await?,
    )
}

/// Records progress of a running job; false if the job is no longer `running`.
pub async fn record_rebuild_progress(
    conn: &mut Conn,
    id: Uuid,
    done: i64,
    total: Option<i64>,
) -> Result<bool, StoreError> {
    let changed = diesel::update(
        rebuild_jobs::table
            .filter(rebuild_jobs::id.eq(id))
            .filter(rebuild_jobs::state.eq(RUNNING)),
    )
    .set((
        rebuild_jobs::done_tasks.eq(done),
        rebuild_jobs::total_tasks.eq(total),
        rebuild_jobs::updated_at.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await?;
    Ok(changed == 1)
}

/// Ends a running job as `state` (`succeeded` or `failed`); false if it was not running.
pub async fn finish_rebuild(
    conn: &mut Conn,
    id: Uuid,
    state: &str,
    error: Option<&str>,
) -> Result<bool, StoreError> {
    let changed = diesel::update(
        rebuild_jobs::table
            .filter(rebuild_jobs::id.eq(id))
            .filter(rebuild_jobs::state.eq(RUNNING)),
    )
    .set((
        rebuild_jobs::state.eq(state),
        rebuild_jobs::error.eq(error),
        rebuild_jobs::finished_at.eq(diesel::dsl::now),
        rebuild_jobs::updated_at.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await?;
    Ok(changed == 1)
}

/// The highest task stream id: every stream that exists now is at or below it. (Submitted
/// tasks' ids are UUIDv7, in creation order; a scheduled task's id is derived from its schedule
/// and instant, anywhere in the order. A stream created later below it is refolded too, which is
/// harmless; one above it is projected live.)
pub async fn newest_stream_id(conn: &mut Conn) -> Result<Option<Uuid>, StoreError> {
    Ok(task_events::table
        .filter(task_events::version.eq(1))
        .select(task_events::stream_id)
        .order(task_events::stream_id.desc())
        .first(conn)
        .await
        .optional()?)
}

/// Task streams up to `upto`.
pub async fn count_streams(conn: &mut Conn, upto: Uuid) -> Result<i64, StoreError> {
    Ok(task_events::table
        .filter(task_events::version.eq(1))
        .filter(task_events::stream_id.le(upto))
        .count()
        .get_result(conn)
        .await?)
}
