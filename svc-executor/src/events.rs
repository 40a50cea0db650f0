//! The lifecycle events this service publishes, built from what it knows of an execution.

use chrono::{DateTime, Utc};
use taskflow_schemas::{
    Event, EventMeta, TaskCancelled, TaskCompleted, TaskFailed, TaskProgressUpdated, TaskStarted,
};
use uuid::Uuid;

use crate::domain::outcome::Next;

/// Identity of one attempt, for the events it causes.
#[derive(Debug, Clone)]
pub struct AttemptRef {
    pub task_id: Uuid,
    pub tenant_id: Uuid,
    pub correlation_id: String,
    /// event_id of the TaskCreated that started it all.
    pub cause: Uuid,
    pub attempt: i32,
    pub producer: String,
}

impl AttemptRef {
    fn meta(&self) -> EventMeta {
        let mut meta = EventMeta::new(
            Utc::now().timestamp_millis(),
            self.correlation_id.clone(),
            self.tenant_id,
            self.producer.clone(),
        );
        meta.causation_id = Some(self.cause.to_string());
        meta
    }

    pub fn started(&self, instance: &str) -> Event {
        TaskStarted {
            meta: self.meta(),
            task_id: self.task_id,
            attempt: self.attempt,
            instance: instance.into(),
        }
        .into()
    }

    pub fn progress(&self, percent: i32, message: String) -> Event {
        TaskProgressUpdated {
            meta: self.meta(),
            task_id: self.task_id,
            attempt: self.attempt,
            percent,
            message: Some(message),
        }
        .into()
    }

    pub fn cancelled(&self, reason: Option<String>) -> Event {
        let attempt = (self.attempt > 0).then_some(self.attempt);
        TaskCancelled {
            meta: self.meta(),
            task_id: self.task_id,
            attempt,
            reason,
        }
        .into()
    }

    /// The event announcing `next`; `retry_at` is when a retry is due.
    pub fn ending(&self, next: &Next, duration_ms: i64, retry_at: Option<DateTime<Utc>>) -> Event {
        match next {
            Next::Complete { result } => TaskCompleted {
                meta: self.meta(),
                task_id: self.task_id,
                attempt: self.attempt,
                result_json: Some(result.to_string()),
                duration_ms,
            }
            .into(),
            Next::Retry { error, .. } => TaskFailed {
                meta: self.meta(),
                task_id: self.task_id,
                attempt: self.attempt,
                error: error.clone(),
                retryable: true,
                is_final: false,
                next_attempt_at: retry_at.map(|t| t.timestamp_millis()),
            }
            .into(),
            Next::Fail { error, retryable } => TaskFailed {
                meta: self.meta(),
                task_id: self.task_id,
                attempt: self.attempt,
                error: error.clone(),
                retryable: *retryable,
                is_final: true,
                next_attempt_at: None,
            }
            .into(),
            Next::Cancel => self.cancelled(Some("cancelled while running".into())),
        }
    }
}
