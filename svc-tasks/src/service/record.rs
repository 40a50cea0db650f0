//! The one way a task's event is recorded: fold it into the task (apply), append it to the log,
//! write the projection, and — for events this service announces — put it in the outbox, all in
//! the caller's transaction. Submit, cancel and the projector all go through here.

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

/// Records `event` on `current` (`None` for a new task). Returns the task after the event, or
/// `None` when the log already holds this event (a redelivery): then nothing was written.
pub async fn record(
    conn: &mut Conn,
    current: Option<&TaskView>,
    event: &Event,
    announce: Announce,
) -> Result<Option<TaskView>, ServiceError> {
    let next = apply(current.cloned(), event).map_err(|e| StoreError::Corrupt {
        what: "task stream",
        reason: e.to_string(),
    })?;
    if !store::append_event(conn, next.id, next.version, event).await? {
        return Ok(None);
    }
    match current {
        None => store::insert_task(conn, &next).await?,
        Some(before) => store::update_task(conn, &next, before.version).await?,
    }
    if announce == Announce::Yes {
        store::enqueue(conn, event).await?;
    }
    Ok(Some(next))
}
