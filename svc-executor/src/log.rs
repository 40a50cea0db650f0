//! The executor's log as facts: what a TaskCreated queues (`new_execution`, the one reading of
//! its fields, for ingest and for the fold alike) and what each row of the log means to the fold
//! (`queued`, `fact`, `interruption`). The log is the outbox (append-only, the platform's):
//! the events the executor announces, and its internal rows, which no relay publishes: the
//! TaskCreated of each execution it queued ("execution queued") and each TaskCancelRequested
//! that flagged a running one. Besides it, `attempt_interruptions` (append-only by use: rows are
//! inserted once and go only with their execution) tells the attempts no event ends.

use chrono::{DateTime, Utc};
use taskflow_platform::headers::TraceContext;
use taskflow_schemas::{Event, TaskCreated};

use crate::domain::AttemptOutcome;
use crate::domain::execution::run_at_instant;
use crate::domain::replay::{Ending, Fact, Logged, Queued};
use crate::store::NewExecution;

/// The execution a TaskCreated queues.
pub fn new_execution(
    event: &Event,
    created: &TaskCreated,
    trace: TraceContext,
) -> Result<NewExecution, serde_json::Error> {
    let created_event = event.to_json()?;
    let payload = serde_json::from_str(&created.payload_json).unwrap_or(serde_json::Value::Null);
    Ok(NewExecution {
        task_id: created.task_id,
        tenant_id: created.meta.tenant_id,
        task_type: created.task_type.clone(),
        priority: created.priority.rank(),
        payload,
        max_attempts: created.max_attempts.max(1),
        timeout_ms: created.timeout_ms.max(1),
        correlation_id: created.meta.correlation_id.clone(),
        created_event_id: created.meta.event_id,
        created_event,
        trace,
        not_before: created.run_at.map(run_at_instant),
    })
}

/// The "execution queued" fact of an internal TaskCreated row logged at `at`.
pub fn queued(
    event: &Event,
    trace: TraceContext,
    at: DateTime<Utc>,
) -> Result<Option<Queued>, serde_json::Error> {
    let Event::TaskCreated(created) = event else {
        return Ok(None);
    };
    let new = new_execution(event, created, trace)?;
    Ok(Some(Queued {
        task_id: new.task_id,
        tenant_id: new.tenant_id,
        task_type: new.task_type,
        priority: new.priority,
        payload: new.payload,
        max_attempts: new.max_attempts,
        timeout_ms: new.timeout_ms,
        correlation_id: new.correlation_id,
        created_event_id: new.created_event_id,
        created_event: new.created_event,
        traceparent: new.trace.traceparent,
        tracestate: new.trace.tracestate,
        run_at: new.not_before,
        at,
    }))
}

/// What a row of the log after the queued fact means to the execution: `internal` rows are the
/// executor's own (a cancel request that flagged it); progress and anything else mean nothing.
pub fn fact(event: &Event, internal: bool, at: DateTime<Utc>) -> Option<Logged> {
    let fact = match (event, internal) {
        (Event::TaskCancelRequested(_), true) => Fact::CancelFlagged,
        (_, true) => return None,
        (Event::TaskStarted(e), false) => Fact::Started {
            attempt: e.attempt,
            instance: e.instance.clone(),
        },
        (Event::TaskCompleted(e), false) => Fact::Ended {
            attempt: Some(e.attempt),
            ending: Ending::Completed,
        },
        (Event::TaskFailed(e), false) if e.is_final => Fact::Ended {
            attempt: Some(e.attempt),
            ending: Ending::Failed,
        },
        (Event::TaskFailed(e), false) => Fact::Ended {
            attempt: Some(e.attempt),
            ending: Ending::Retry {
                // Every non-final TaskFailed says when; one that did not would be due at once.
                due: e
                    .next_attempt_at
                    .and_then(DateTime::from_timestamp_millis)
                    .unwrap_or(at),
            },
        },
        (Event::TaskCancelled(e), false) => Fact::Ended {
            attempt: e.attempt,
            ending: Ending::Cancelled,
        },
        _ => return None,
    };
    Some(Logged { fact, at })
}

/// A row of `attempt_interruptions` as a fact.
pub fn interruption(attempt: i32, outcome: &str, at: DateTime<Utc>) -> Option<Logged> {
    let fact = match outcome.parse::<AttemptOutcome>().ok()? {
        AttemptOutcome::Released => Fact::Released { attempt },
        AttemptOutcome::Lost => Fact::Lost { attempt },
        _ => return None,
    };
    Some(Logged { fact, at })
}
