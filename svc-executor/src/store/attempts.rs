//! Attempts the event log cannot tell the end of. An attempt's history is the outbox (its
//! TaskStarted, then its ending event; the `attempts` view of the migration
//! `attempts_from_the_log` reads them back), so a claim and an outcome write no row here. Only
//! an attempt that ends without an event is recorded: lost with its instance (taken over after
//! its lease expired) or released at shutdown.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::schema::attempt_interruptions;
use super::{Conn, StoreError};
use crate::domain::AttemptOutcome;

/// Records as lost ("lease expired") the attempts before these, which their instance held when
/// its lease ran out; `taken_over` are (task, attempt now starting), in one statement.
pub async fn end_lost_attempts(
    conn: &mut Conn,
    taken_over: &[(Uuid, i32)],
) -> Result<(), StoreError> {
    let rows: Vec<_> = taken_over
        .iter()
        .filter(|(_, attempt)| *attempt > 1)
        .map(|(task_id, attempt)| {
            (
                attempt_interruptions::task_id.eq(*task_id),
                attempt_interruptions::attempt.eq(attempt - 1),
                attempt_interruptions::outcome.eq(AttemptOutcome::Lost.as_str()),
                attempt_interruptions::error.eq("lease expired"),
            )
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    diesel::insert_into(attempt_interruptions::table)
        .values(rows)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// Records attempt `attempt` as released (its instance is shutting down and gives it back).
pub(super) async fn release_attempt(
    conn: &mut Conn,
    task_id: Uuid,
    attempt: i32,
) -> Result<(), StoreError> {
    diesel::insert_into(attempt_interruptions::table)
        .values((
            attempt_interruptions::task_id.eq(task_id),
            attempt_interruptions::attempt.eq(attempt),
            attempt_interruptions::outcome.eq(AttemptOutcome::Released.as_str()),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}
