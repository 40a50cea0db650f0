//! The task aggregate: its state is a fold of its events; commands decide new events.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use taskflow_platform::text::{scrub, scrub_json};
/// Defined once for every service in `taskflow-schemas`; named here so `domain::TaskStatus`
/// stays where svc-tasks' callers look for it.
pub use taskflow_schemas::TaskStatus;
use taskflow_schemas::{
    Event, EventMeta, Priority, ScheduledTaskTriggered, TaskCancelRequested, TaskState,
};
use uuid::Uuid;

/// What `GET /v1/tasks/{id}` shows: the fold of the task's events.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskView {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub task_type: String,
    pub priority: Priority,
    pub status: TaskStatus,
    pub payload: serde_json::Value,
    pub labels: BTreeMap<String, String>,
    pub max_attempts: i32,
    pub timeout_ms: i64,
    pub attempts: i32,
    pub progress_percent: Option<i32>,
    pub progress_message: Option<String>,
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
    pub idempotency_key: Option<String>,
    pub correlation_id: String,
    pub cancel_requested: bool,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Number of events folded in: the stream version of the last one.
    pub version: i32,
    /// The schedule whose trigger created the task; `None` for a submitted one.
    pub schedule_id: Option<Uuid>,
    /// That schedule's nominal instant this task is for (from the trigger at version 0).
    pub fire_time: Option<DateTime<Utc>>,
    /// When a delayed task is due (`None`: as soon as possible).
    pub run_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("task {0} already exists")]
    AlreadyExists(Uuid),
    #[error("no task {0} to apply {1} to")]
    UnknownTask(Uuid, &'static str),
    #[error("{0} events do not belong to a task stream")]
    NotATaskEvent(&'static str),
    #[error("event for task {event_task} applied to task {task}")]
    WrongStream { task: Uuid, event_task: Uuid },
}

pub fn millis_to_time(millis: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(millis)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// Folds one event into the task's state. `state` is `None` before the first event.
pub fn apply(state: Option<TaskView>, event: &Event) -> Result<TaskView, ApplyError> {
    let at = millis_to_time(event.meta().occurred_at);
    let Some(mut task) = state else {
        return match event {
            Event::TaskCreated(created) => Ok(created_view(created, at)),
            other => Err(ApplyError::UnknownTask(other.key(), other.kind().name())),
        };
    };
    if event.key() != task.id {
        return Err(ApplyError::WrongStream {
            task: task.id,
            event_task: event.key(),
        });
    }
    task.version += 1;
    task.updated_at = task.updated_at.max(at);
    // A finished task stays finished: late progress or a duplicate ending changes nothing.
    if task.status.is_terminal() {
        return Ok(task);
    }
    // An event that arrives after a later step of the execution is history, not news: kept in
    // the log (the version counts it), but it does not move the state back.
    if is_stale(&task, event) {
        return Ok(task);
    }
    match event {
        Event::TaskCreated(_) => return Err(ApplyError::AlreadyExists(task.id)),
        Event::ScheduledTaskTriggered(_)
        | Event::ScheduleOccurrenceSkipped(_)
        | Event::ScheduledTaskRefused(_)
        | Event::TaskState(_)
        | Event::ScheduleCreated(_)
        | Event::ScheduleChanged(_)
        | Event::SchedulePaused(_)
        | Event::ScheduleResumed(_)
        | Event::ScheduleDeleted(_)
        | Event::ScheduleState(_)
        | Event::ApiKeyIssued(_)
        | Event::ApiKeyRevoked(_) => {
            return Err(ApplyError::NotATaskEvent(event.kind().name()));
        }
        Event::TaskCancelRequested(_) => task.cancel_requested = true,
        Event::TaskStarted(e) => {
            task.status = TaskStatus::Running;
            task.attempts = task.attempts.max(e.attempt);
            task.next_attempt_at = None;
            task.started_at.get_or_insert(at);
        }
        Event::TaskProgressUpdated(e) => {
            // Progress of an attempt whose start has not arrived yet still means it runs.
            task.status = TaskStatus::Running;
            task.attempts = task.attempts.max(e.attempt);
            task.next_attempt_at = None;
            task.started_at.get_or_insert(at);
            task.progress_percent = Some(e.percent.clamp(0, 100));
            task.progress_message = e.message.as_deref().map(|m| scrub(m).into_owned());
        }
        Event::TaskCompleted(e) => {
            task.status = TaskStatus::Completed;
            task.attempts = task.attempts.max(e.attempt);
            task.progress_percent = Some(100);
            // Scrubbed: a result may carry NUL (as `\u0000`), which jsonb cannot store.
            task.result = e
                .result_json
                .as_deref()
                .map(|r| scrub_json(serde_json::from_str(r).unwrap_or_else(|_| r.into())));
            task.error = None;
            task.finished_at = Some(at);
        }
        Event::TaskFailed(e) => {
            task.attempts = task.attempts.max(e.attempt);
            task.error = Some(scrub(&e.error).into_owned());
            if e.is_final {
                task.status = TaskStatus::Failed;
                task.next_attempt_at = None;
                task.finished_at = Some(at);
            } else {
                task.status = TaskStatus::Retrying;
                task.next_attempt_at = e.next_attempt_at.map(millis_to_time);
            }
        }
        Event::TaskCancelled(_) => {
            task.status = TaskStatus::Cancelled;
            task.next_attempt_at = None;
            task.finished_at = Some(at);
        }
    }
    Ok(task)
}

/// Folds a whole stream as the log holds it. A scheduled task's stream opens with the trigger
/// that caused it (version 0): not a step of the task, but which instant of which schedule the
/// task is for. `None` for a stream without its TaskCreated.
pub fn fold<'a>(
    events: impl IntoIterator<Item = &'a Event>,
) -> Result<Option<TaskView>, ApplyError> {
    let mut events = events.into_iter().peekable();
    let trigger = match events.peek() {
        Some(Event::ScheduledTaskTriggered(trigger)) => {
            events.next();
            Some(trigger)
        }
        _ => None,
    };
    let mut state = None;
    for event in events {
        state = Some(apply(state, event)?);
    }
    match (state, trigger) {
        (Some(task), Some(trigger)) => scheduled(task, trigger).map(Some),
        (state, _) => Ok(state),
    }
}

/// `task`, created by `trigger`: it shows the schedule and the nominal instant.
pub fn scheduled(
    mut task: TaskView,
    trigger: &ScheduledTaskTriggered,
) -> Result<TaskView, ApplyError> {
    if trigger.task_id != task.id {
        return Err(ApplyError::WrongStream {
            task: task.id,
            event_task: trigger.task_id,
        });
    }
    task.schedule_id = Some(trigger.schedule_id);
    task.fire_time = Some(millis_to_time(trigger.fire_time));
    Ok(task)
}

/// Whether `event` is an older step of the execution than the one `task` already shows, judged
/// by the event's attempt number and phase (start/progress before the attempt's end), never by
/// arrival order. Endings of the whole task (completed, final failure, cancelled) are never
/// stale: nothing follows them.
fn is_stale(task: &TaskView, event: &Event) -> bool {
    let (attempt, ends_attempt) = match event {
        Event::TaskStarted(e) => (e.attempt, false),
        Event::TaskProgressUpdated(e) => (e.attempt, false),
        Event::TaskFailed(e) if !e.is_final => (e.attempt, true),
        _ => return false,
    };
    let attempt_already_ended = task.status == TaskStatus::Retrying && !ends_attempt;
    attempt < task.attempts || (attempt == task.attempts && attempt_already_ended)
}

fn created_view(e: &taskflow_schemas::TaskCreated, at: DateTime<Utc>) -> TaskView {
    let run_at = e.run_at.map(millis_to_time);
    // Judged by the event's own time, so a rebuild decides as the submission did.
    let status = if run_at.is_some_and(|due| due > at) {
        TaskStatus::Scheduled
    } else {
        TaskStatus::Pending
    };
    TaskView {
        id: e.task_id,
        tenant_id: e.meta.tenant_id,
        task_type: e.task_type.clone(),
        priority: e.priority,
        status,
        payload: serde_json::from_str(&e.payload_json).unwrap_or(serde_json::Value::Null),
        labels: e.labels.clone(),
        max_attempts: e.max_attempts,
        timeout_ms: e.timeout_ms,
        attempts: 0,
        progress_percent: None,
        progress_message: None,
        result: None,
        error: None,
        idempotency_key: e.idempotency_key.clone(),
        correlation_id: e.meta.correlation_id.clone(),
        cancel_requested: false,
        next_attempt_at: None,
        created_at: at,
        updated_at: at,
        started_at: None,
        finished_at: None,
        version: 1,
        // Text in the contract; always a uuid when svc-tasks wrote it.
        schedule_id: e.schedule_id.as_deref().and_then(|s| s.parse().ok()),
        fire_time: None,
        run_at,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CancelRefused {
    #[error("task already ended as {}", .0.as_str())]
    AlreadyFinished(TaskStatus),
}

/// A cancellation request for `task`, or `None` when one was already recorded (asking twice
/// is not an error and records nothing new).
pub fn decide_cancel(
    task: &TaskView,
    meta: EventMeta,
    reason: Option<String>,
) -> Result<Option<TaskCancelRequested>, CancelRefused> {
    if task.status.is_terminal() {
        return Err(CancelRefused::AlreadyFinished(task.status));
    }
    if task.cancel_requested {
        return Ok(None);
    }
    Ok(Some(TaskCancelRequested {
        meta,
        task_id: task.id,
        reason,
    }))
}

/// The task's state as the compacted state topic carries it.
pub fn state_of(task: &TaskView, meta: EventMeta) -> TaskState {
    let millis = |t: chrono::DateTime<chrono::Utc>| t.timestamp_millis();
    TaskState {
        meta,
        task_id: task.id,
        task_type: task.task_type.clone(),
        status: task.status.as_str().to_owned(),
        priority: task.priority,
        attempts: task.attempts,
        max_attempts: task.max_attempts,
        cancel_requested: task.cancel_requested,
        created_at: millis(task.created_at),
        run_at: task.run_at.map(millis),
        started_at: task.started_at.map(millis),
        finished_at: task.finished_at.map(millis),
        error: task.error.clone(),
        schedule_id: task.schedule_id.map(|id| id.to_string()),
        labels: task.labels.clone(),
        version: task.version,
    }
}

#[cfg(test)]
#[path = "task_tests.rs"]
mod tests;
