//! The one way a task's events are recorded: fold them into the task (apply), write the
//! projection, and collect them for the task log, all in the caller's transaction. Submit and
//! schedule triggers ([`record_new`]), cancel ([`record`]) and the projector ([`record_folded`],
//! for a batch it folded itself) all go through here.
//!
//! The task log is the outbox (issue 24): an event svc-tasks announces (TaskCreated,
//! TaskCancelRequested) is one row, published by the relay from the log; the events it only
//! records (the executor's, a schedule's trigger) are internal rows of the same log. The
//! transaction's owner appends them as its last statement ([`Outgoing::append`]): after the task
//! rows are locked, so a task's ids follow commit order, and the lock the append holds to the
//! commit (the relay's fence) is never held while waiting for a row lock.

use taskflow_platform::headers::{TraceContext, current_trace};
use taskflow_schemas::Event;
use tracing::Instrument;
use uuid::Uuid;

use super::ServiceError;
use crate::domain::{TaskView, apply, fold};
use crate::store::{self, Conn, LogEntry, StoreError};

/// What a transaction appends to the log at its end: task events at their stream positions,
/// other announcements (keys, refusals) and dead letters.
#[derive(Debug, Default)]
pub struct Outgoing {
    log: Vec<LogEntry>,
    events: Vec<(Event, TraceContext)>,
    /// (event, topic, reason, span): parked on a dead-letter topic.
    dead_letters: Vec<(Event, String, String, tracing::Span)>,
}

/// Rows per log statement, well under PostgreSQL's bind parameter limit.
const APPEND_CHUNK: usize = 1000;

impl Outgoing {
    /// An announced event that belongs to no task's stream (a key, a refusal).
    pub fn push(&mut self, event: Event, trace: TraceContext) {
        self.events.push((event, trace));
    }

    /// `event` at `version` of task `stream_id`; published in `announce`'s trace, or recorded
    /// only when `None`.
    pub fn log(
        &mut self,
        stream_id: Uuid,
        version: i32,
        event: Event,
        announce: Option<TraceContext>,
    ) {
        self.log.push(LogEntry {
            stream_id,
            version,
            event,
            announce,
        });
    }

    /// `event` parked on `topic` with `reason`, in the trace of `span`.
    pub fn park(&mut self, event: Event, topic: &str, reason: &str, span: tracing::Span) {
        self.dead_letters
            .push((event, topic.to_owned(), reason.to_owned(), span));
    }

    /// Appends everything to the log: the last statement of the caller's transaction. Returns
    /// whether anything to publish was appended (the relay is worth waking after the commit).
    pub async fn append(self, conn: &mut Conn) -> Result<bool, ServiceError> {
        let mut announced = !self.events.is_empty() || !self.dead_letters.is_empty();
        for chunk in self.log.chunks(APPEND_CHUNK) {
            announced |= store::append_log(conn, chunk).await?;
        }
        for chunk in self.events.chunks(APPEND_CHUNK) {
            store::enqueue_all(conn, chunk).await?;
        }
        for (event, topic, reason, span) in &self.dead_letters {
            taskflow_platform::outbox::enqueue_dead_letter(conn, event, topic, reason)
                .instrument(span.clone())
                .await?;
        }
        Ok(announced)
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
    store::update_tasks(conn, std::slice::from_ref(&next)).await?;
    out.log(next.id, next.version, event.clone(), Some(current_trace()));
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

    fn log(&self) -> impl Iterator<Item = (Uuid, i32, &Event)> {
        let task_id = self.created.key();
        self.cause
            .iter()
            .map(move |cause| (task_id, 0, cause))
            .chain(std::iter::once((task_id, 1, &self.created)))
    }
}

/// Records many new tasks (a submission batch, a batch of triggers): the projection now, one
/// statement; their opening events to `out`'s log (TaskCreated announced). All or nothing, in
/// the caller's transaction.
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
    store::insert_tasks(conn, &tasks).await?;
    for task in new {
        for (stream_id, version, event) in task.log() {
            let announce = (version == 1).then(|| task.trace.clone());
            out.log(stream_id, version, event.clone(), announce);
        }
    }
    Ok(tasks)
}

/// Records events already folded by the caller (who holds the tasks' row locks): `events` as
/// (task, version, event), recorded only (they are other services' events), `changed` the tasks
/// after them. The projection in one statement now, the log at `out`'s append.
///
/// A changed task whose status, attempts or cancel flag moved (not progress alone) is marked for
/// the state topic (`state_relay`) by the projection's own upsert.
pub async fn record_folded(
    conn: &mut Conn,
    events: &[(Uuid, i32, &Event)],
    changed: &[TaskView],
    out: &mut Outgoing,
) -> Result<(), ServiceError> {
    store::update_tasks(conn, changed).await?;
    for (stream_id, version, event) in events {
        out.log(*stream_id, *version, (*event).clone(), None);
    }
    Ok(())
}
