//! What the maintenance room deletes in this service's database: executions that ended before
//! the cut-off, with their recorded interruptions and attempts from before the log; and the
//! log itself (the outbox), by the executor's own rule, `delete_log_before`. Queued and running
//! work is never touched, however old. The state literals are the final states of
//! `ExecutionState` (the partial index of the migration `retention` names them the same way).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use taskflow_platform::maintenance::BoxFuture;
use uuid::Uuid;

use diesel::sql_types::{BigInt, Timestamptz};
use taskflow_platform::outbox::outbox_published;

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
            // The one delete the interruptions' append-only trigger lets through.
            diesel::sql_query("SET LOCAL taskflow.retention = 'on'")
                .execute(conn)
                .await?;
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

/// The executor's retention of its log: deletes up to `limit` published rows written before
/// `cut_off` whose task has no execution any more, and the relay's pass records older than the
/// cut-off (never the newest). An execution's facts stay as long as its row does, however old:
/// a task delayed by its run_at past the log's retention keeps its queued fact, and a rebuild
/// (`crate::rebuild`) neither loses a live execution nor brings back a deleted one as queued
/// (a log without a task's queued fact folds to no row). Once the execution is gone (ended,
/// past `TASKFLOW_EXECUTOR_RETENTION_HOURS`), its rows go by the log's own retention
/// (`TASKFLOW_OUTBOX_RETENTION_HOURS`), oldest first, the queued fact before the others.
///
/// SQL text: the rows are chosen by a correlated `NOT EXISTS` on the execution keyed by
/// `(body->>'task_id')::uuid` (every event of this log names its task by a UUID), which the
/// builder cannot say. Deleting from the log is let
/// through only under the transaction setting `taskflow.retention` (the log's append-only
/// trigger, platform/migrations), as the platform's own cleaner does.
pub fn delete_log_before(
    conn: &mut Conn,
    cut_off: DateTime<Utc>,
    limit: i64,
) -> BoxFuture<'_, Result<usize, StoreError>> {
    Box::pin(async move {
        conn.transaction::<_, StoreError, _>(async |conn| {
            diesel::sql_query("SET LOCAL taskflow.retention = 'on'")
                .execute(conn)
                .await?;
            let position: Option<i64> = outbox_published::table
                .select(diesel::dsl::max(outbox_published::up_to))
                .first(conn)
                .await?;
            let Some(position) = position else {
                return Ok(0);
            };
            let deleted = diesel::sql_query(
                "DELETE FROM outbox WHERE id IN ( \
                   SELECT o.id FROM outbox o \
                   WHERE o.id <= $1 AND o.created_at < $2 \
                     AND NOT EXISTS (SELECT 1 FROM executions e \
                                     WHERE e.task_id = (o.body->>'task_id')::uuid) \
                   ORDER BY o.id LIMIT $3)",
            )
            .bind::<BigInt, _>(position)
            .bind::<Timestamptz, _>(cut_off)
            .bind::<BigInt, _>(limit)
            .execute(conn)
            .await?;
            diesel::delete(
                outbox_published::table
                    .filter(outbox_published::up_to.lt(position))
                    .filter(outbox_published::published_at.lt(cut_off)),
            )
            .execute(conn)
            .await?;
            Ok(deleted)
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
