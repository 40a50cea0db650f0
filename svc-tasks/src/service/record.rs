//! The one way a task's events are recorded: fold them into the task (apply), append them to
//! the log, write the projection, and — for events this service announces — put them in the
//! outbox, all in the caller's transaction. Submit and schedule triggers ([`record_new`]), cancel
//! ([`record`]) and the projector ([`record_folded`], for a batch it folded itself) all go
//! through here.

use taskflow_platform::headers::{TraceContext, current_trace};
use taskflow_schemas::Event;

use super::ServiceError;
use crate::domain::{TaskView, apply, fold};
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

/// A new task's opening events: its TaskCreated (version 1, announced), and before it the event
/// of another service that caused it, if one did (version 0, recorded only: a schedule's
/// trigger, whose nominal instant TaskCreated's contract does not carry).
#[derive(Debug, Clone)]
pub struct NewTask {
    pub cause: Option<Event>,
    pub created: Event,
    /// The trace the TaskCreated travels in.
    pub trace: TraceContext,
}

impl NewTask {
    /// A task a client submitted, in the request's trace (`trace`).
    pub fn submitted(created: Event, trace: TraceContext) -> Self {
        Self {
            cause: None,
            created,
            trace,
        }
    }

    /// A task another service's event caused, in that event's trace (`trace`).
    pub fn caused_by(cause: Event, created: Event, trace: TraceContext) -> Self {
        Self {
            cause: Some(cause),
            created,
            trace,
        }
    }

    fn log(&self) -> impl Iterator<Item = (uuid::Uuid, i32, &Event)> {
        let task_id = self.created.key();
        self.cause
            .iter()
            .map(move |cause| (task_id, 0, cause))
            .chain(std::iter::once((task_id, 1, &self.created)))
    }
}

/// Records many new tasks (a submission batch, a batch of triggers) with one statement per
/// table: the log, the projection and the outbox. All or nothing, in the caller's transaction.
pub async fn record_new(conn: &mut Conn, new: &[NewTask]) -> Result<Vec<TaskView>, ServiceError> {
    let tasks = new
        .iter()
        .map(|task| {
            let corrupt = |reason: String| StoreError::Corrupt {
                what: "new task",
                reason,
            };
            match fold(task.log().map(|(_, _, event)| event)) {
                Ok(Some(view)) => Ok(view),
                Ok(None) => Err(corrupt(format!(
                    "{} has no TaskCreated",
                    task.created.key()
                ))),
                Err(e) => Err(corrupt(e.to_string())),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let log: Vec<_> = new.iter().flat_map(NewTask::log).collect();
    store::append_events(conn, &log).await?;
    store::insert_tasks(conn, &tasks).await?;
    let outgoing: Vec<_> = new
        .iter()
        .map(|task| (task.created.clone(), task.trace.clone()))
        .collect();
    store::enqueue_all(conn, &outgoing).await?;
    Ok(tasks)
}

/// Records events already folded by the caller (who holds the tasks' row locks): `events` as
/// (task, version, event), `changed` the tasks after them. One statement per table.
///
/// A changed task whose status, attempts or cancel flag moved (not progress alone) is marked for
/// the state topic (`state_relay`) by the projection's own upsert.
pub async fn record_folded(
    conn: &mut Conn,
    events: &[(uuid::Uuid, i32, &Event)],
    changed: &[TaskView],
    announce: Announce,
) -> Result<(), ServiceError> {
    store::append_events(conn, events).await?;
    store::update_tasks(conn, changed).await?;
    if announce == Announce::Yes {
        let trace = current_trace();
        let outgoing: Vec<_> = events
            .iter()
            .map(|(_, _, e)| ((*e).clone(), trace.clone()))
            .collect();
        store::enqueue_all(conn, &outgoing).await?;
    }
    Ok(())
}
