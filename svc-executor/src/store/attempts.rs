//! The execution log: one row per attempt, from its start to its outcome.

use diesel::dsl::now;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::schema::attempts;
use super::{Conn, StoreError};
use crate::domain::AttemptOutcome;

/// Ends, as lost ("lease expired"), the open attempts of these tasks, in one statement: their
/// instance's lease expired and another instance took them over (`dispatch::rescuer`).
pub async fn end_lost_attempts(conn: &mut Conn, task_ids: &[Uuid]) -> Result<(), StoreError> {
    if task_ids.is_empty() {
        return Ok(());
    }
    diesel::update(
        attempts::table
            .filter(attempts::task_id.eq_any(task_ids))
            .filter(attempts::ended_at.is_null()),
    )
    .set((
        attempts::ended_at.eq(now),
        attempts::outcome.eq(AttemptOutcome::Lost.as_str()),
        attempts::error.eq("lease expired"),
    ))
    .execute(conn)
    .await?;
    Ok(())
}

/// Logs the start of many attempts (one claim) in one statement.
pub async fn start_attempts(
    conn: &mut Conn,
    started: &[(Uuid, i32)],
    instance: &str,
) -> Result<(), StoreError> {
    if started.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = started
        .iter()
        .map(|(task_id, attempt)| {
            (
                attempts::task_id.eq(*task_id),
                attempts::attempt.eq(*attempt),
                attempts::instance.eq(instance),
            )
        })
        .collect();
    diesel::insert_into(attempts::table)
        .values(rows)
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks attempt `attempt` released if it is still open (its instance is shutting down).
pub(super) async fn release_attempt(
    conn: &mut Conn,
    task_id: Uuid,
    attempt: i32,
) -> Result<(), StoreError> {
    diesel::update(
        attempts::table
            .find((task_id, attempt))
            .filter(attempts::ended_at.is_null()),
    )
    .set((
        attempts::ended_at.eq(now),
        attempts::outcome.eq(AttemptOutcome::Released.as_str()),
    ))
    .execute(conn)
    .await?;
    Ok(())
}
