//! What the instance holding an execution's lease may do with it. Every statement here is
//! guarded by the lease (`attempt = n AND lease_owner = me AND state = 'running'`), so an
//! instance whose lease expired and was taken over changes nothing.

use chrono::{DateTime, Utc};
use diesel::dsl::{exists, now};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::schema::executions;
use super::{Conn, StoreError, attempts};
use crate::domain::ExecutionState;

/// True while `owner` holds attempt `attempt` of the task (guards progress reports).
pub async fn holds(
    conn: &mut Conn,
    task_id: Uuid,
    attempt: i32,
    owner: &str,
) -> Result<bool, StoreError> {
    diesel::select(exists(
        executions::table
            .find(task_id)
            .filter(executions::attempt.eq(attempt))
            .filter(executions::lease_owner.eq(owner))
            .filter(executions::state.eq(ExecutionState::Running.as_str())),
    ))
    .get_result(conn)
    .await
}

/// On shutdown: gives back what `owner` still runs, to start again elsewhere right away
/// (`Released` in the state machine: queued, due now; the open attempt is logged as
/// released). A released attempt does not count against the task's `max_attempts`: the
/// execution's budget grows by one, so the run elsewhere is a full attempt even when the
/// released one was the last allowed (attempt numbers still only grow). Returns how many
/// executions were given back. Run it in a transaction: the executions stay locked from the
/// first statement to the last.
pub async fn release_owned(conn: &mut Conn, owner: &str) -> Result<usize, StoreError> {
    let owned = executions::table
        .filter(executions::lease_owner.eq(owner))
        .filter(executions::state.eq(ExecutionState::Running.as_str()));
    let running: Vec<(Uuid, i32)> = owned
        .select((executions::task_id, executions::attempt))
        .for_update()
        .load(conn)
        .await?;
    for (task_id, attempt) in running {
        attempts::release_attempt(conn, task_id, attempt).await?;
    }
    diesel::update(owned)
        .set((
            executions::state.eq(ExecutionState::Queued.as_str()),
            executions::lease_owner.eq(None::<String>),
            executions::lease_until.eq(None::<DateTime<Utc>>),
            executions::due_at.eq(now),
            executions::updated_at.eq(now),
            executions::max_attempts.eq(executions::max_attempts + 1),
        ))
        .execute(conn)
        .await
}
