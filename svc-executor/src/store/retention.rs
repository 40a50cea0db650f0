//! What the maintenance room deletes in this service's database: executions that ended before
//! the cut-off, with their recorded interruptions and attempts from before the log (the events
//! of their attempts go with the outbox's own retention). Queued and running work is never touched, however old. The
//! state literals are the final states of `ExecutionState` (the partial index of the migration
//! `retention` names them the same way).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use taskflow_platform::maintenance::BoxFuture;
use uuid::Uuid;

use super::schema::{attempt_interruptions, attempts_before_log, executions};
use super::{Conn, StoreError};

/// The final states, as the index and the statement name them.
const ENDED: [&str; 3] = ["completed", "failed", "cancelled"];

/// Deletes up to `limit` executions that ended before `cut_off`, and their attempts, in one
/// transaction; returns how many executions went.
pub fn delete_ended_before(
    conn: &mut Conn,
    cut_off: DateTime<Utc>,
    limit: i64,
) -> BoxFuture<'_, Result<usize, StoreError>> {
    Box::pin(async move {
        conn.transaction::<_, StoreError, _>(async |conn| {
            let ended: Vec<Uuid> = executions::table
                .filter(executions::state.eq_any(ENDED))
                .filter(executions::updated_at.lt(cut_off))
                .select(executions::task_id)
                .limit(limit)
                .for_update()
                .skip_locked()
                .load(conn)
                .await?;
            if ended.is_empty() {
                return Ok(0);
            }
            diesel::delete(
                attempt_interruptions::table.filter(attempt_interruptions::task_id.eq_any(&ended)),
            )
            .execute(conn)
            .await?;
            diesel::delete(
                attempts_before_log::table.filter(attempts_before_log::task_id.eq_any(&ended)),
            )
            .execute(conn)
            .await?;
            diesel::delete(executions::table.filter(executions::task_id.eq_any(&ended)))
                .execute(conn)
                .await
        })
        .await
    })
}

#[cfg(test)]
mod tests {
    use crate::domain::ExecutionState;

    #[test]
    fn the_statement_names_exactly_the_final_states() {
        let finals: Vec<&str> = ExecutionState::ALL
            .into_iter()
            .filter(|s| s.is_final())
            .map(ExecutionState::as_str)
            .collect();
        assert_eq!(finals, super::ENDED);
    }
}
