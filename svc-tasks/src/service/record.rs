//! The one way a task's events are recorded: fold them into the task (apply), append them to
//! the log, write the projection, and — for events this service announces — collect them for
//! the outbox, all in the caller's transaction. Submit and schedule triggers ([`record_new`]),
//! cancel ([`record`]) and the projector ([`record_folded`], for a batch it folded itself) all
//! go through here.
//!
//! Announced events are appended to the outbox by the transaction's owner as its last statement
//! ([`Outgoing::append`]): after the task rows are locked, so a task's ids follow commit order,
//! and the lock the append holds to the commit (the relay's fence) is never held while waiting
//! for a row lock.

use taskflow_platform::headers::{TraceContext, current_trace};
use taskflow_schemas::Event;
use tracing::Instrument;

use super::ServiceError;
use crate::domain::{TaskView, apply, fold};
use crate::store::{self, Conn, StoreError};

/// Events a transaction announces, appended to the outbox at its end.
#[derive(Debug, Default)]
pub struct Outgoing {
    events: Vec<(Event, TraceContext)>,
    /// (event, topic, reason, span): parked on a dead-letter topic.
    dead_letters: Vec<(Event, String, String, tracing::Span)>,
}

/// Rows per outbox statement, well under PostgreSQL's bind parameter limit.
const APPEND_CHUNK: usize = 1000;

impl Outgoing {
    pub fn push(&mut self, event: Event, trace: TraceContext) {
        self.events.push((event, trace));
    }

    /// `event` parked on `topic` with `reason`, in the trace of `span`.
    pub fn park(&mut self, event: Event, topic: &str, reason: &str, span: tracing::Span) {
        self.dead_letters
            .push((event, topic.to_owned(), reason.to_owned(), span));
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.dead_letters.is_empty()
    }

    /// Appends everything to the outbox: the last statement of the caller's transaction.
    /// Returns whether anything was appended (the relay is worth waking after the commit).
    pub async fn append(self, conn: &mut Conn) -> Result<bool, ServiceError> {
        let any = !self.is_empty();
        for chunk in self.events.chunks(APPEND_CHUNK) {
            store::enqueue_all(conn, chunk).await?;
        }
        for (event, topic, reason, span) in &self.dead_letters {
            taskflow_platform::outbox::enqueue_dead_letter(conn, event, topic, reason)
                .instrument(span.clone())
                .await?;
        }
        Ok(any)
    }
}

/// Records a new `event` of the existing task `current` (whose row the caller has locked),
/// announced through `out`, and returns the task after it.
pub async fn record(
    conn: &mut Conn,
    current: &TaskView,
    event: &Event,
    out: &mut Outgoing,
) -> Result<TaskView, ServiceError> {
    let next = apply(Some(current.clone()), event).map_err(|e| StoreError::Corrupt {
        what: "task stream",
        reason: e.to_string(),
    })?;
    record_folded(
        conn,
        &[(next.id, next.version, event)],
        std::slice::from_ref(&next),
    )
    .await?;
    out.push(event.clone(), current_trace());
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
/// table: the log and the projection; their TaskCreated go to `out`. All or nothing, in the
/// caller's transaction.
pub async fn record_new(
    conn: &mut Conn,
    new: &[NewTask],
    out: &mut Outgoing,
) -> Result<Vec<TaskView>, ServiceError> {
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
    for task in new {
        out.push(task.created.clone(), task.trace.clone());
    }
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
) -> Result<(), ServiceError> {
    store::append_events(conn, events).await?;
    store::update_tasks(conn, changed).await?;
    Ok(())
}
