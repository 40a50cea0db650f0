//! A task's live view again from its notification history, for a projection rebuild.
//!
//! The history is svc-notify's log: each notification carries what the live `fold` decided (the
//! status after the event, the task's type, priority and labels) and what the event said (its
//! attempt, percent, message, error). `replay` moves a view by one notification exactly as
//! `fold` moved it by the event behind it, so refolding a task's whole history gives the view
//! the live path wrote (`refold_tests` checks the two against each other).
//!
//! Retention prunes the oldest notifications: a task's history is *complete* only while its
//! first notification (the one told with no previous status) is still there. What remains of an
//! incomplete one refolds to a view that lacks what the pruned part said (e.g. `created_at`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use taskflow_schemas::EventKind;
use uuid::Uuid;

use super::{TaskState, TaskStatus};

/// One notification as the refold reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Told {
    pub tenant_id: Uuid,
    pub task_id: Uuid,
    pub kind: EventKind,
    pub status: TaskStatus,
    pub previous_status: Option<TaskStatus>,
    pub task_type: Option<String>,
    pub priority: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub percent: Option<i32>,
    pub message: Option<String>,
    pub attempt: Option<i32>,
    pub error: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

/// A task's view refolded from its history.
#[derive(Debug, Clone, PartialEq)]
pub struct Refolded {
    pub state: TaskState,
    /// Whether the history still starts with the task's first notification.
    pub complete: bool,
}

/// The view after `told`, from the view before it (`None`: nothing known yet).
pub fn replay(current: Option<TaskState>, told: &Told) -> TaskState {
    let ended = current.as_ref().is_some_and(|t| t.status.is_terminal());
    let mut task = current.unwrap_or_else(|| TaskState {
        task_id: told.task_id,
        tenant_id: told.tenant_id,
        task_type: None,
        priority: None,
        labels: BTreeMap::new(),
        status: TaskStatus::Pending,
        percent: None,
        message: None,
        attempt: 0,
        error: None,
        cancel_requested: false,
        created_at: None,
        updated_at: told.occurred_at,
    });
    // What the live fold decided travels with every notification.
    task.status = told.status;
    task.task_type.clone_from(&told.task_type);
    task.priority.clone_from(&told.priority);
    task.labels.clone_from(&told.labels);
    let attempt = told.attempt.unwrap_or_default();
    match told.kind {
        EventKind::TaskCreated => task.created_at = Some(told.occurred_at),
        EventKind::TaskCancelRequested => task.cancel_requested = true,
        EventKind::TaskStarted if !ended && attempt >= task.attempt => {
            task.attempt = attempt;
            task.percent = None;
            task.message = None;
            task.error = None;
        }
        EventKind::TaskProgressUpdated if !ended && attempt >= task.attempt => {
            task.attempt = attempt;
            task.percent = told.percent;
            task.message.clone_from(&told.message);
        }
        EventKind::TaskCompleted if !ended => {
            task.percent = Some(100);
            task.attempt = task.attempt.max(attempt);
        }
        EventKind::TaskFailed if !ended => {
            task.error.clone_from(&told.error);
            task.attempt = task.attempt.max(attempt);
        }
        // Its status came with it (an ended task's view stays); the rest are never told.
        _ => {}
    }
    if told.occurred_at > task.updated_at {
        task.updated_at = told.occurred_at;
    }
    task
}

/// The view a task's history (its notifications in sequence order) folds to; `None` for none.
pub fn refold(history: &[Told]) -> Option<Refolded> {
    let first = history.first()?;
    let state = history
        .iter()
        .fold(None, |state, told| Some(replay(state, told)))?;
    Some(Refolded {
        state,
        complete: first.previous_status.is_none(),
    })
}

/// What a rebuild does with a task's refolded view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// Replace the view the task has.
    Overwrite,
    /// Write it unless the task has a view by then (one the live path created meanwhile stays).
    IfAbsent,
    /// Leave the view the task has.
    Keep,
}

/// What to do with `refolded`, given the tenant of the task's view when its row was locked
/// (`None`: no view). A view is replaced only from a complete history: one whose start was
/// pruned cannot say what the pruned part did, so the view the live path wrote stays; a task
/// without a view gets what is left (the best there is). A view of another tenant under the same
/// task id is that tenant's task, left alone.
pub fn write_for(refolded: &Refolded, existing_tenant: Option<Uuid>) -> Write {
    match existing_tenant {
        None => Write::IfAbsent,
        Some(tenant) if tenant != refolded.state.tenant_id => Write::Keep,
        Some(_) if !refolded.complete => Write::Keep,
        Some(_) => Write::Overwrite,
    }
}

#[cfg(test)]
#[path = "refold_tests.rs"]
mod tests;
