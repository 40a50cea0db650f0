//! Executions entering the queue (ingest) and leaving it for good (the dead letter of a task
//! that failed for good).

use chrono::{DateTime, Utc};
use diesel::dsl::now;
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Timestamptz};
use diesel_async::RunQueryDsl;
use taskflow_platform::outbox::{self, OutboxError};
use taskflow_schemas::{Event, EventKind};
use uuid::Uuid;

use super::schema::executions;
use super::{Conn, StoreError, claim};
use crate::domain::ExecutionState;

/// A task as TaskCreated described it, ready to queue.
#[derive(Debug, Clone)]
pub struct NewExecution {
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
    pub trace: taskflow_platform::headers::TraceContext,
    /// Not to start before this (the task's run_at, past or not); `None`: as soon as possible.
    pub not_before: Option<DateTime<Utc>>,
}

diesel::define_sql_function! {
    /// PostgreSQL's GREATEST, which skips NULLs: `greatest(now, NULL)` is now.
    fn greatest(a: Timestamptz, b: Nullable<Timestamptz>) -> Timestamptz;
}

/// Queues many executions in one statement (and gives their tenants turn rows); tasks already
/// known are left as they are. Each is due at the database's now or its `not_before`,
/// whichever is later: a run_at in the past does not put a task ahead of work queued before it
/// (the log's fold, `domain::replay`, says the same). Returns the tasks queued now.
pub async fn insert_executions(
    conn: &mut Conn,
    new: &[NewExecution],
) -> Result<Vec<Uuid>, StoreError> {
    if new.is_empty() {
        return Ok(Vec::new());
    }
    let mut tenants: Vec<Uuid> = new.iter().map(|e| e.tenant_id).collect();
    tenants.sort_unstable();
    tenants.dedup();
    claim::ensure_turns(conn, &tenants).await?;
    let rows: Vec<_> = new
        .iter()
        .map(|e| {
            (
                executions::task_id.eq(e.task_id),
                executions::tenant_id.eq(e.tenant_id),
                executions::task_type.eq(&e.task_type),
                executions::priority.eq(e.priority),
                executions::payload.eq(&e.payload),
                executions::max_attempts.eq(e.max_attempts),
                executions::timeout_ms.eq(e.timeout_ms),
                executions::correlation_id.eq(&e.correlation_id),
                executions::created_event_id.eq(e.created_event_id),
                executions::created_event.eq(&e.created_event),
                executions::traceparent.eq(&e.trace.traceparent),
                executions::tracestate.eq(&e.trace.tracestate),
                executions::state.eq(ExecutionState::Queued.as_str()),
                executions::due_at.eq(greatest(now, e.not_before)),
            )
        })
        .collect();
    diesel::insert_into(executions::table)
        .values(rows)
        .on_conflict_do_nothing()
        .returning(executions::task_id)
        .get_results(conn)
        .await
}

/// Parks the task's original TaskCreated on the dead-letter `topic` with `reason`, through the
/// platform's outbox in the caller's transaction. Nothing when the task is unknown.
pub async fn dead_letter_task(
    conn: &mut Conn,
    task_id: Uuid,
    topic: &str,
    reason: &str,
) -> Result<(), OutboxError> {
    let created: Option<serde_json::Value> = executions::table
        .find(task_id)
        .select(executions::created_event)
        .first(conn)
        .await
        .optional()?;
    let Some(created) = created else {
        return Ok(());
    };
    // Stored by ingest from the TaskCreated it decoded, so it reads back as one. Should it not
    // (a contract changed incompatibly under a stored row), the task's ending must still be
    // recorded: the dead letter is given up, loudly, rather than the outcome retried forever.
    match Event::from_json(EventKind::TaskCreated, created) {
        Ok(event) => outbox::enqueue_dead_letter(conn, &event, topic, reason).await,
        Err(error) => {
            tracing::error!(%task_id, %error, "stored TaskCreated is unreadable; not dead-lettered");
            Ok(())
        }
    }
}
