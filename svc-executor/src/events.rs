//! The lifecycle events this service publishes, built from what it knows of an execution. Each
//! is stamped by the [`Clock`] it is given.

use chrono::{DateTime, Utc};
use taskflow_platform::clock::Clock;
use taskflow_platform::text::{scrub, scrub_json};
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
    fn meta(&self, clock: &dyn Clock) -> EventMeta {
        let mut meta = EventMeta::new(
            clock.now_millis(),
            self.correlation_id.clone(),
            self.tenant_id,
            self.producer.clone(),
        );
        meta.causation_id = Some(self.cause.to_string());
        meta
    }

    pub fn started(&self, clock: &dyn Clock, instance: &str) -> Event {
        TaskStarted {
            meta: self.meta(clock),
            task_id: self.task_id,
            attempt: self.attempt,
            instance: instance.into(),
        }
        .into()
    }

    pub fn progress(&self, clock: &dyn Clock, percent: i32, message: String) -> Event {
        TaskProgressUpdated {
            meta: self.meta(clock),
            task_id: self.task_id,
            attempt: self.attempt,
            percent,
            message: Some(scrub(&message).into_owned()),
        }
        .into()
    }

    pub fn cancelled_at(&self, clock: &dyn Clock, reason: Option<String>) -> Event {
        let attempt = (self.attempt > 0).then_some(self.attempt);
        TaskCancelled {
            meta: self.meta(clock),
            task_id: self.task_id,
            attempt,
            reason: reason.map(|r| scrub(&r).into_owned()),
        }
        .into()
    }

    /// The event announcing `next`; `retry_at` is when a retry is due.
    pub fn ending(
        &self,
        clock: &dyn Clock,
        next: &Next,
        duration_ms: i64,
        retry_at: Option<DateTime<Utc>>,
    ) -> Event {
        match next {
            Next::Complete { result } => TaskCompleted {
                meta: self.meta(clock),
                task_id: self.task_id,
                attempt: self.attempt,
                result_json: Some(scrub_json(result.clone()).to_string()),
                duration_ms,
            }
            .into(),
            Next::Retry { error, .. } => TaskFailed {
                meta: self.meta(clock),
                task_id: self.task_id,
                attempt: self.attempt,
                error: scrub(error).into_owned(),
                retryable: true,
                is_final: false,
                next_attempt_at: retry_at.map(|t| t.timestamp_millis()),
            }
            .into(),
            Next::Fail { error, retryable } => TaskFailed {
                meta: self.meta(clock),
                task_id: self.task_id,
                attempt: self.attempt,
                error: scrub(error).into_owned(),
                retryable: *retryable,
                is_final: true,
                next_attempt_at: None,
            }
            .into(),
            Next::Cancel => self.cancelled_at(clock, Some("cancelled while running".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use taskflow_platform::clock::ManualClock;

    use super::*;
    use crate::domain::execution::{Due, after_attempt};

    fn attempt() -> AttemptRef {
        AttemptRef {
            task_id: Uuid::now_v7(),
            tenant_id: Uuid::now_v7(),
            correlation_id: "c-1".into(),
            cause: Uuid::now_v7(),
            attempt: 2,
            producer: "svc-executor/test@it".into(),
        }
    }

    #[test]
    fn events_are_stamped_by_the_given_clock() {
        let start = DateTime::<Utc>::from_timestamp(1_790_000_000, 0).expect("instant");
        let clock = ManualClock::at(start);
        let a = attempt();
        let started = a.started(&*clock, "it");
        assert_eq!(started.meta().occurred_at, start.timestamp_millis());
        assert_eq!(started.meta().causation_id, Some(a.cause.to_string()));
        clock.advance(chrono::Duration::seconds(3));
        let progress = a.progress(&*clock, 50, "half".into());
        assert_eq!(
            progress.meta().occurred_at,
            start.timestamp_millis() + 3_000
        );
    }

    #[test]
    fn a_retry_announces_when_the_next_attempt_is_due() {
        let start = DateTime::<Utc>::from_timestamp(1_790_000_000, 0).expect("instant");
        let clock = ManualClock::at(start);
        let next = Next::Retry {
            error: "503".into(),
            delay: Duration::from_millis(750),
        };
        let Due::At(due) = after_attempt(&next, clock.now()).due else {
            panic!("a retry is due at an instant");
        };
        let Event::TaskFailed(failed) = attempt().ending(&*clock, &next, 12, Some(due)) else {
            panic!("a retry is announced as a non-final TaskFailed");
        };
        assert!(!failed.is_final && failed.retryable);
        assert_eq!(failed.next_attempt_at, Some(start.timestamp_millis() + 750));
        assert_eq!(failed.meta.occurred_at, start.timestamp_millis());
    }

    /// A handler's error, progress or result may carry NUL (an HTTP body, say); PostgreSQL
    /// cannot store it, and an outcome that cannot be written would be retried forever.
    #[test]
    fn nul_from_a_handler_is_scrubbed_before_it_is_written() {
        let clock = ManualClock::at(Utc::now());
        let failed = attempt().ending(
            &*clock,
            &Next::Fail {
                error: "bad\0body".into(),
                retryable: false,
            },
            1,
            None,
        );
        let Event::TaskFailed(failed) = failed else {
            panic!("a failure is a TaskFailed");
        };
        assert_eq!(failed.error, "bad\u{FFFD}body");
        let done = attempt().ending(
            &*clock,
            &Next::Complete {
                result: serde_json::json!({"body": "a\u{0}b"}),
            },
            1,
            None,
        );
        let Event::TaskCompleted(done) = done else {
            panic!("a success is a TaskCompleted");
        };
        let result_json = done.result_json.expect("a success carries its result");
        let result: serde_json::Value = serde_json::from_str(&result_json).expect("json");
        assert_eq!(result, serde_json::json!({"body": "a\u{FFFD}b"}));
        let Event::TaskProgressUpdated(p) = attempt().progress(&*clock, 5, "x\0".into()) else {
            panic!("progress");
        };
        assert_eq!(p.message.as_deref(), Some("x\u{FFFD}"));
    }
}
