//! The one way a task's events are recorded: fold them into the task (apply), append them to
//! the log, write the projection, and — for events this service announces — put them in the
//! outbox, all in the caller's transaction. Submit ([`record_new`]), cancel ([`record`]) and the
//! projector ([`record_folded`], for a batch it folded itself) all go through here.

use taskflow_schemas::Event;

use super::ServiceError;
use crate::domain::{TaskView, apply};
use crate::store::{self, Conn, StoreError};

/// Whether a recorded event also goes to Kafka (through the outbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announce {
    /// Our own event (TaskCreated, TaskCancelRequested): published.
    Yes,
    /// Another service's event we follow: recorded only.
    No,
}

/// Records a new `event` of the existing task `current` (whose row the caller has locked) and
/// returns the task after it.
pub async fn record(
    conn: &mut Conn,
    current: &TaskView,
    event: &Event,
    announce: Announce,
) -> Result<TaskView, ServiceError> {
    let next = apply(Some(current.clone()), event).map_err(|e| StoreError::Corrupt {
        what: "task stream",
        reason: e.to_string(),
    })?;
    record_folded(
        conn,
        &[(next.id, next.version, event)],
        std::slice::from_ref(&next),
        announce,
    )
    .await?;
    Ok(next)
}

/// Records the first event of many new tasks (a submission batch) with one statement per table:
/// the log, the projection and the outbox. All or nothing, in the caller's transaction.
pub async fn record_new(conn: &mut Conn, events: &[Event]) -> Result<Vec<TaskView>, ServiceError> {
    let tasks = events
        .iter()
        .map(|event| {
            apply(None, event).map_err(|e| StoreError::Corrupt {
                what: "new task",
                reason: e.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let first: Vec<_> = events.iter().map(|e| (e.key(), 1, e)).collect();
    store::append_events(conn, &first).await?;
    store::insert_tasks(conn, &tasks).await?;
    let trace = taskflow_platform::headers::current_trace();
    let outgoing: Vec<_> = events.iter().map(|e| (e.clone(), trace.clone())).collect();
    store::enqueue_all(conn, &outgoing).await?;
    Ok(tasks)
}

/// Records events already folded by the caller (who holds the tasks' row locks): `events` as
/// (task, version, event), `changed` the tasks after them. One statement per table.
pub async fn record_folded(
    conn: &mut Conn,
    events: &[(uuid::Uuid, i32, &Event)],
    changed: &[TaskView],
    announce: Announce,
) -> Result<(), ServiceError> {
    store::append_events(conn, events).await?;
    store::update_tasks(conn, changed).await?;
    if announce == Announce::Yes {
        let trace = taskflow_platform::headers::current_trace();
        let outgoing: Vec<_> = events
            .iter()
            .map(|(_, _, e)| ((*e).clone(), trace.clone()))
            .collect();
        store::enqueue_all(conn, &outgoing).await?;
    }
    Ok(())
}
