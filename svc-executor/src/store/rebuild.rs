//! The statements of a rebuild of `executions` from the log (`crate::rebuild` runs them, one
//! page of executions per transaction): the log's bound and its "execution queued" rows, the
//! page's executions locked, their facts, and the refolded rows written back.
//!
//! Why the lock is `FOR UPDATE` and not `SKIP LOCKED`: every writer of an execution (a claim,
//! an outcome, a cancel request, a release) changes the row and appends its fact in one
//! transaction, holding the row's lock. Waiting for the lock, the page then reads every fact
//! committed before it, and no new one can commit until the page has written the row back:
//! the refold and the live change serialize, and no row is left un-rebuilt. (A claim skips
//! the locked rows for the page's few milliseconds: `SKIP LOCKED` on its side.)

use chrono::{DateTime, Utc};
use diesel::dsl::{count_star, max};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;
use taskflow_platform::outbox::outbox;
use uuid::Uuid;

use super::schema::{attempt_interruptions, executions};
use super::{Conn, StoreError};

/// The event type of the "execution queued" rows: the received TaskCreated, logged internally.
const QUEUED_TYPE: &str = "TaskCreated";

/// A row of the log as a rebuild reads it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox, check_for_backend(diesel::pg::Pg))]
pub struct LogRow {
    pub id: i64,
    pub event_type: String,
    pub body: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
    pub internal: bool,
}

/// The newest position of the log: executions queued after it are written live and need no
/// refold.
pub async fn log_bound(conn: &mut Conn) -> Result<i64, StoreError> {
    Ok(outbox::table
        .select(max(outbox::id))
        .first::<Option<i64>>(conn)
        .await?
        .unwrap_or(0))
}

/// The "execution queued" rows up to `bound`.
fn queued_rows(bound: i64) -> outbox::BoxedQuery<'static, diesel::pg::Pg> {
    outbox::table
        .filter(outbox::internal)
        .filter(outbox::event_type.eq(QUEUED_TYPE))
        .filter(outbox::destination.is_null())
        .filter(outbox::id.le(bound))
        .into_boxed()
}

/// How many executions were queued up to `bound` (and are still in the log).
pub async fn count_queued(conn: &mut Conn, bound: i64) -> Result<i64, StoreError> {
    queued_rows(bound).select(count_star()).first(conn).await
}

/// The next `limit` "execution queued" rows after position `after`, up to `bound`.
pub async fn queued_page(
    conn: &mut Conn,
    after: i64,
    bound: i64,
    limit: i64,
) -> Result<Vec<LogRow>, StoreError> {
    queued_rows(bound)
        .filter(outbox::id.gt(after))
        .order(outbox::id)
        .limit(limit)
        .select(LogRow::as_select())
        .load(conn)
        .await
}

/// An execution's row as it is now: what a rebuild keeps of it (the live lease).
#[derive(Debug, Clone, Queryable)]
pub struct Current {
    pub task_id: Uuid,
    pub attempt: i32,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
}

/// Locks the executions of `tasks` that exist, in key order (as every page does, so two pages
/// never wait for each other), until the caller's transaction ends; returns them.
pub async fn lock_executions(conn: &mut Conn, tasks: &[Uuid]) -> Result<Vec<Current>, StoreError> {
    executions::table
        .filter(executions::task_id.eq_any(tasks))
        .order(executions::task_id)
        .select((
            executions::task_id,
            executions::attempt,
            executions::lease_owner,
            executions::lease_until,
        ))
        .for_update()
        .load(conn)
        .await
}

/// The log rows about `tasks` from position `from` on (their queued facts are at or after it),
/// in log order; dead letters aside. Without an index by task, this reads the log from `from`
/// to its end: a rebuild reads the log once per page, newest pages shortest.
pub async fn log_of(conn: &mut Conn, tasks: &[Uuid], from: i64) -> Result<Vec<LogRow>, StoreError> {
    let keys: Vec<String> = tasks.iter().map(Uuid::to_string).collect();
    outbox::table
        .filter(outbox::id.ge(from))
        .filter(outbox::destination.is_null())
        .filter(outbox::body.retrieve_as_text("task_id").eq_any(keys))
        .order(outbox::id)
        .select(LogRow::as_select())
        .load(conn)
        .await
}

/// The interruptions of `tasks`' attempts: (task, attempt, outcome, when).
pub async fn interruptions_of(
    conn: &mut Conn,
    tasks: &[Uuid],
) -> Result<Vec<(Uuid, i32, String, DateTime<Utc>)>, StoreError> {
    attempt_interruptions::table
        .filter(attempt_interruptions::task_id.eq_any(tasks))
        .select((
            attempt_interruptions::task_id,
            attempt_interruptions::attempt,
            attempt_interruptions::outcome,
            attempt_interruptions::at,
        ))
        .load(conn)
        .await
}

/// An execution refolded from the log, every column of its row.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = executions)]
pub struct Refolded {
    pub task_id: Uuid,
    pub tenant_id: Uuid,
    pub task_type: String,
    pub priority: i16,
    pub payload: serde_json::Value,
    pub max_attempts: i32,
    pub timeout_ms: i64,
    pub correlation_id: String,
    pub created_event_id: Uuid,
    pub created_event: serde_json::Value,
    pub state: String,
    pub attempt: i32,
    pub due_at: DateTime<Utc>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub cancel_requested: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
}

/// Writes `rows` over the executions (inserting those that are gone), in one statement.
pub async fn write_refolded(conn: &mut Conn, rows: &[Refolded]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    use executions::*;
    diesel::insert_into(table)
        .values(rows)
        .on_conflict(task_id)
        .do_update()
        .set((
            tenant_id.eq(excluded(tenant_id)),
            task_type.eq(excluded(task_type)),
            priority.eq(excluded(priority)),
            payload.eq(excluded(payload)),
            max_attempts.eq(excluded(max_attempts)),
            timeout_ms.eq(excluded(timeout_ms)),
            correlation_id.eq(excluded(correlation_id)),
            created_event_id.eq(excluded(created_event_id)),
            created_event.eq(excluded(created_event)),
            state.eq(excluded(state)),
            attempt.eq(excluded(attempt)),
            due_at.eq(excluded(due_at)),
            lease_owner.eq(excluded(lease_owner)),
            lease_until.eq(excluded(lease_until)),
            cancel_requested.eq(excluded(cancel_requested)),
            created_at.eq(excluded(created_at)),
            updated_at.eq(excluded(updated_at)),
            traceparent.eq(excluded(traceparent)),
            tracestate.eq(excluded(tracestate)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes every execution: the projection emptied, so that a rebuild has to restore all of it
/// (tests; never the job). Running attempts whose row is gone record nothing until it is back.
pub async fn wipe_executions(conn: &mut Conn) -> Result<usize, StoreError> {
    diesel::delete(executions::table).execute(conn).await
}
