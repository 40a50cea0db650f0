//! How one event moves a task's live view, and the notification it becomes.
//!
//! Events of one task reach svc-notify on two topics (requests from svc-tasks, lifecycle from
//! the executor), each in order but not in order with each other: a `TaskStarted` may arrive
//! before its `TaskCreated`. So creation fills in what it knows without moving the status back,
//! and a task that ended stays ended whatever arrives late. Every event is still told (the
//! history is a record of what happened), with the status the task has after it.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use taskflow_schemas::Event;
use uuid::Uuid;

use super::TaskStatus;

/// Results longer than this are cut in notifications (the full result stays in svc-tasks).
pub const RESULT_SUMMARY_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq)]
pub struct TaskState {
    pub task_id: Uuid,
    pub tenant_id: Uuid,
    pub task_type: Option<String>,
    pub priority: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub status: TaskStatus,
    pub percent: Option<i32>,
    pub message: Option<String>,
    pub attempt: i32,
    pub error: Option<String>,
    pub cancel_requested: bool,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// A notification before it gets its place in the tenant's sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub tenant_id: Uuid,
    pub event_id: Uuid,
    pub task_id: Uuid,
    pub event_type: &'static str,
    pub status: TaskStatus,
    pub previous_status: Option<TaskStatus>,
    pub task_type: Option<String>,
    pub priority: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub percent: Option<i32>,
    pub message: Option<String>,
    pub attempt: Option<i32>,
    pub error: Option<String>,
    pub result_summary: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

fn at(millis: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(millis)
        .single()
        .unwrap_or_default()
}

fn summary(result_json: Option<&str>) -> Option<String> {
    let text = result_json?;
    if text.chars().count() <= RESULT_SUMMARY_CHARS {
        return Some(text.to_owned());
    }
    let cut: String = text.chars().take(RESULT_SUMMARY_CHARS - 1).collect();
    Some(format!("{cut}…"))
}

fn fresh(event: &Event, task_id: Uuid, status: TaskStatus) -> TaskState {
    let meta = event.meta();
    TaskState {
        task_id,
        tenant_id: meta.tenant_id,
        task_type: None,
        priority: None,
        labels: BTreeMap::new(),
        status,
        percent: None,
        message: None,
        attempt: 0,
        error: None,
        cancel_requested: false,
        created_at: None,
        updated_at: at(meta.occurred_at),
    }
}

/// The task's view after `event`, and what to tell about it. `None` for events that are not
/// about a task (API keys, schedule triggers) or that name another tenant than the task's.
pub fn fold(current: Option<TaskState>, event: &Event) -> Option<(TaskState, Draft)> {
    if !event.kind().is_task_lifecycle() {
        return None;
    }
    let task_id = event.task_id()?;
    let meta = event.meta();
    if current
        .as_ref()
        .is_some_and(|t| t.tenant_id != meta.tenant_id)
    {
        return None;
    }
    let previous_status = current.as_ref().map(|t| t.status);
    let ended = previous_status.is_some_and(TaskStatus::is_terminal);
    let mut task = current.unwrap_or_else(|| fresh(event, task_id, TaskStatus::Pending));
    let set_status = |task: &mut TaskState, status: TaskStatus| {
        if !ended {
            task.status = status;
        }
    };
    let mut draft_attempt = None;
    let mut result_summary = None;
    let mut message = None;
    match event {
        Event::TaskCreated(e) => {
            task.task_type = Some(e.task_type.clone());
            // The API's spelling (svc-tasks says "high"), not Avro's enum symbol ("HIGH").
            task.priority = serde_json::to_value(e.priority)
                .ok()
                .and_then(|v| v.as_str().map(str::to_ascii_lowercase));
            task.labels.clone_from(&e.labels);
            task.created_at = Some(at(meta.occurred_at));
            // A delayed task waits as `scheduled` until it starts.
            if previous_status.is_none() && e.run_at.is_some_and(|t| t > meta.occurred_at) {
                task.status = TaskStatus::Scheduled;
            }
        }
        Event::TaskCancelRequested(e) => {
            task.cancel_requested = true;
            message = Some(match &e.reason {
                Some(reason) => format!("cancel requested: {reason}"),
                None => "cancel requested".to_owned(),
            });
        }
        Event::TaskStarted(e) => {
            set_status(&mut task, TaskStatus::Running);
            if !ended && e.attempt >= task.attempt {
                task.attempt = e.attempt;
                task.percent = None;
                task.message = None;
                task.error = None;
            }
            draft_attempt = Some(e.attempt);
        }
        Event::TaskProgressUpdated(e) => {
            set_status(&mut task, TaskStatus::Running);
            if !ended && e.attempt >= task.attempt {
                task.attempt = e.attempt;
                task.percent = Some(e.percent.clamp(0, 100));
                task.message.clone_from(&e.message);
            }
            draft_attempt = Some(e.attempt);
            message.clone_from(&e.message);
        }
        Event::TaskCompleted(e) => {
            set_status(&mut task, TaskStatus::Completed);
            if !ended {
                task.percent = Some(100);
                task.attempt = task.attempt.max(e.attempt);
            }
            draft_attempt = Some(e.attempt);
            result_summary = summary(e.result_json.as_deref());
        }
        Event::TaskFailed(e) => {
            let status = if e.is_final {
                TaskStatus::Failed
            } else {
                TaskStatus::Retrying
            };
            set_status(&mut task, status);
            if !ended {
                task.error = Some(e.error.clone());
                task.attempt = task.attempt.max(e.attempt);
            }
            draft_attempt = Some(e.attempt);
        }
        Event::TaskCancelled(e) => {
            set_status(&mut task, TaskStatus::Cancelled);
            draft_attempt = e.attempt;
            message.clone_from(&e.reason);
        }
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
            return None;
        }
    }
    let occurred_at = at(meta.occurred_at);
    if occurred_at > task.updated_at {
        task.updated_at = occurred_at;
    }
    let error = match event {
        Event::TaskFailed(e) => Some(e.error.clone()),
        _ => None,
    };
    let percent = match event {
        Event::TaskProgressUpdated(e) => Some(e.percent.clamp(0, 100)),
        Event::TaskCompleted(_) => Some(100),
        _ => None,
    };
    let draft = Draft {
        tenant_id: meta.tenant_id,
        event_id: meta.event_id,
        task_id,
        event_type: event.kind().name(),
        status: task.status,
        previous_status,
        task_type: task.task_type.clone(),
        priority: task.priority.clone(),
        labels: task.labels.clone(),
        percent,
        message,
        attempt: draft_attempt,
        error,
        result_summary,
        occurred_at,
    };
    Some((task, draft))
}

#[cfg(test)]
#[path = "fold_tests.rs"]
mod tests;
