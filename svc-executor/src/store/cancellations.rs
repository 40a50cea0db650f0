//! Cancellation requests: a waiting execution ends at once; a running one is flagged, and the
//! instance running it polls its flags and stops it.

use diesel::dsl::now;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::schema::executions;
use super::{Conn, StoreError};
use crate::domain::ExecutionState;
use crate::domain::execution::{Move, Transition, Trigger, transition};

/// What a cancellation request found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelFound {
    /// It was waiting: it is now cancelled here and the caller announces it.
    StoppedWaiting {
        attempt: i32,
        tenant_id: Uuid,
        correlation_id: String,
    },
    /// It is running somewhere: flagged; its runner stops it and announces it.
    Flagged,
    /// Already ended, or unknown.
    Nothing,
}

/// Applies a cancellation request to the task's execution (locked until the caller commits),
/// as the state machine says (`CancelRequested`).
pub async fn request_cancel(conn: &mut Conn, task_id: Uuid) -> Result<CancelFound, StoreError> {
    let row: Option<(String, i32, Uuid, String)> = executions::table
        .find(task_id)
        .select((
            executions::state,
            executions::attempt,
            executions::tenant_id,
            executions::correlation_id,
        ))
        .for_update()
        .first(conn)
        .await
        .optional()?;
    let Some((state, attempt, tenant_id, correlation_id)) = row else {
        return Ok(CancelFound::Nothing);
    };
    // A state this build does not know is left alone, like a final one.
    let Ok(state) = state.parse::<ExecutionState>() else {
        return Ok(CancelFound::Nothing);
    };
    match transition(state, Trigger::CancelRequested) {
        Ok(Transition::Move(Move { to, .. })) => {
            diesel::update(executions::table.find(task_id))
                .set((
                    executions::state.eq(to.as_str()),
                    executions::updated_at.eq(now),
                ))
                .execute(conn)
                .await?;
            Ok(CancelFound::StoppedWaiting {
                attempt,
                tenant_id,
                correlation_id,
            })
        }
        Ok(Transition::FlagCancel) => {
            diesel::update(executions::table.find(task_id))
                .set((
                    executions::cancel_requested.eq(true),
                    executions::updated_at.eq(now),
                ))
                .execute(conn)
                .await?;
            Ok(CancelFound::Flagged)
        }
        Err(_final) => Ok(CancelFound::Nothing),
    }
}

/// Running executions of `owner` that someone asked to cancel.
pub async fn cancel_flags(conn: &mut Conn, owner: &str) -> Result<Vec<Uuid>, StoreError> {
    executions::table
        .filter(executions::lease_owner.eq(owner))
        .filter(executions::state.eq(ExecutionState::Running.as_str()))
        .filter(executions::cancel_requested)
        .select(executions::task_id)
        .load(conn)
        .await
}
