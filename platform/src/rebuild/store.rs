//! The job table (`projection_rebuilds`, platform migration 6) and the two advisory locks that
//! make "one job at a time" and "a job whose runner is gone shows as failed" hold across
//! instances and restarts.
//!
//! - The *runner lock* is a session-level lock held by the connection that runs the job, for the
//!   job's whole life. PostgreSQL releases it when that session ends, also when the process is
//!   killed, so "the lock is free" means "no job is running".
//! - The *control lock* is a transaction-level lock taken by everything that starts a job, ends
//!   one, or decides that a `running` row is orphaned. Under it, the runner lock is held exactly
//!   while a live job's row says `running`.
//!
//! Both use the two-key form of the advisory lock functions with a class of their own (the
//! one-key form carries migrations, the outbox and idempotency keys).

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Bool;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::Conn;
use super::job::{JobState, RebuildJob};

/// "pr" (projection rebuild): the first key of both locks, for `pg_advisory_*(int, int)`.
pub const LOCK_CLASS: i32 = 0x7072;
/// Held by the session running a job, for the job's life.
pub const RUNNER_LOCK: i32 = 1;
/// Held by a transaction that starts or ends a job, or fails an orphaned one.
pub const CONTROL_LOCK: i32 = 2;

diesel::table! {
    projection_rebuilds (id) {
        id -> Uuid,
        state -> Text,
        unit -> Text,
        total -> Nullable<Int8>,
        done -> Int8,
        started_at -> Timestamptz,
        updated_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
        error -> Nullable<Text>,
        owner -> Text,
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = projection_rebuilds, check_for_backend(diesel::pg::Pg))]
pub(super) struct JobRow {
    pub id: Uuid,
    pub state: String,
    pub unit: String,
    pub total: Option<i64>,
    pub done: i64,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub owner: String,
}

impl From<JobRow> for RebuildJob {
    fn from(row: JobRow) -> Self {
        Self {
            job_id: row.id,
            // The table's CHECK allows only the three states.
            state: JobState::parse(&row.state).unwrap_or(JobState::Failed),
            unit: row.unit,
            total: row.total,
            done: row.done,
            started_at: row.started_at,
            updated_at: row.updated_at,
            finished_at: row.finished_at,
            error: row.error,
        }
    }
}

fn lock_call(function: &str, lock: i32) -> diesel::expression::SqlLiteral<Bool> {
    sql::<Bool>(&format!("{function}({LOCK_CLASS}, {lock})"))
}

/// Waits for the control lock, held until the transaction ends. Call inside a transaction.
pub(super) async fn lock_control(conn: &mut Conn) -> QueryResult<()> {
    diesel::sql_query(format!(
        "SELECT pg_advisory_xact_lock({LOCK_CLASS}, {CONTROL_LOCK})"
    ))
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes the runner lock for this session (it outlives transactions); false if a job holds it.
pub(super) async fn try_hold_runner_lock(conn: &mut Conn) -> QueryResult<bool> {
    diesel::select(lock_call("pg_try_advisory_lock", RUNNER_LOCK))
        .get_result(conn)
        .await
}

/// Gives the runner lock back (the session keeps running).
pub(super) async fn release_runner_lock(conn: &mut Conn) -> QueryResult<bool> {
    diesel::select(lock_call("pg_advisory_unlock", RUNNER_LOCK))
        .get_result(conn)
        .await
}

/// True when no session holds the runner lock, i.e. no job runs anywhere. Probes with a
/// transaction-level lock, so nothing stays held; call under the control lock.
pub(super) async fn runner_lock_free(conn: &mut Conn) -> QueryResult<bool> {
    diesel::select(lock_call("pg_try_advisory_xact_lock", RUNNER_LOCK))
        .get_result(conn)
        .await
}

pub(super) async fn insert(conn: &mut Conn, job: &JobRow) -> QueryResult<()> {
    diesel::insert_into(projection_rebuilds::table)
        .values(job)
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn get(conn: &mut Conn, id: Uuid) -> QueryResult<Option<JobRow>> {
    projection_rebuilds::table
        .find(id)
        .select(JobRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub(super) async fn running(conn: &mut Conn) -> QueryResult<Option<JobRow>> {
    projection_rebuilds::table
        .filter(projection_rebuilds::state.eq(JobState::Running.as_str()))
        .select(JobRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Marks every `running` job failed with `error`; how many there were.
pub(super) async fn fail_running(conn: &mut Conn, error: &str) -> QueryResult<usize> {
    diesel::update(
        projection_rebuilds::table
            .filter(projection_rebuilds::state.eq(JobState::Running.as_str())),
    )
    .set((
        projection_rebuilds::state.eq(JobState::Failed.as_str()),
        projection_rebuilds::error.eq(error),
        projection_rebuilds::finished_at.eq(diesel::dsl::now),
        projection_rebuilds::updated_at.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await
}

/// Records progress of a running job; false if the job is no longer `running`.
pub(super) async fn record_progress(
    conn: &mut Conn,
    id: Uuid,
    done: i64,
    total: Option<i64>,
) -> QueryResult<bool> {
    let changed = diesel::update(
        projection_rebuilds::table
            .filter(projection_rebuilds::id.eq(id))
            .filter(projection_rebuilds::state.eq(JobState::Running.as_str())),
    )
    .set((
        projection_rebuilds::done.eq(done),
        projection_rebuilds::total.eq(total),
        projection_rebuilds::updated_at.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await?;
    Ok(changed == 1)
}

/// Ends a running job as `state`; false if it was not running.
pub(super) async fn finish(
    conn: &mut Conn,
    id: Uuid,
    state: JobState,
    error: Option<&str>,
) -> QueryResult<bool> {
    let changed = diesel::update(
        projection_rebuilds::table
            .filter(projection_rebuilds::id.eq(id))
            .filter(projection_rebuilds::state.eq(JobState::Running.as_str())),
    )
    .set((
        projection_rebuilds::state.eq(state.as_str()),
        projection_rebuilds::error.eq(error),
        projection_rebuilds::finished_at.eq(diesel::dsl::now),
        projection_rebuilds::updated_at.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await?;
    Ok(changed == 1)
}
