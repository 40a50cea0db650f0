//! Running one attempt: the task's handler under its timeout and cancel flag, a handler's panic
//! caught and turned into a failure; then the decision of what follows (retry after a jittered
//! backoff, fail for good, complete, cancel) and the event announcing it, handed to the
//! completer.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use taskflow_platform::clock::SharedClock;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinError;
use uuid::Uuid;

use super::cancels::Cancels;
use super::completer::Finished;
use super::progress::{AttemptProgress, ProgressOutbox};
use super::{DispatchSettings, rescuer};
use crate::domain::HandlerError;
use crate::domain::execution::{Due, after_attempt};
use crate::domain::outcome::{AttemptResult, Next, decide};
use crate::events::AttemptRef;
use crate::handlers::Handlers;
use crate::store::Claimed;

/// What every attempt of this instance runs with.
pub(super) struct Runner {
    pub(super) settings: Arc<DispatchSettings>,
    pub(super) handlers: Handlers,
    /// Stamps events and times retries (leases and due work are judged by the database's clock).
    pub(super) clock: SharedClock,
    pub(super) cancels: Arc<Cancels>,
    pub(super) progress: Arc<ProgressOutbox>,
    /// Finished attempts on their way to the completer, which records many in one transaction.
    pub(super) finished: mpsc::UnboundedSender<Finished>,
}

impl Runner {
    /// Runs attempt `task.attempt` and hands its outcome to the completer; returns once the
    /// outcome is recorded (the slot frees only then) or the completer is gone.
    pub(super) async fn run(self: Arc<Self>, task: Claimed) {
        let mut cancel_rx = self.cancels.watch(task.task_id);
        let started = Instant::now();
        let result = if let Some(exhausted) = rescuer::exhausted(&task) {
            exhausted
        } else {
            let timeout = Duration::from_millis(task.timeout_ms.max(1) as u64);
            let progress = AttemptProgress {
                outbox: self.progress.clone(),
                attempt: attempt_ref(&task, &self.settings.producer),
            };
            // A panic is caught here, where the attempt is known, and ends it as failed with the
            // panic's message (see `HandlerError::panicked` for why for good). Unwind safety:
            // the handler's future is dropped after a panic, and the handlers share nothing a
            // half-run could leave broken (the HTTP client drops a connection whose request was
            // abandoned).
            let handler =
                AssertUnwindSafe(self.handlers.run(&task.task_type, &task.payload, &progress))
                    .catch_unwind();
            tokio::select! {
                outcome = tokio::time::timeout(timeout, handler) => match outcome {
                    Ok(Ok(Ok(result))) => AttemptResult::Succeeded(result),
                    Ok(Ok(Err(error))) => AttemptResult::Failed(error),
                    Ok(Err(panic)) => {
                        let error = HandlerError::panicked(&*panic);
                        tracing::error!(task_id = %task.task_id, attempt = task.attempt, %error, "handler panicked; the attempt fails for good");
                        AttemptResult::Failed(error)
                    }
                    Err(_) => AttemptResult::TimedOut { after: timeout },
                },
                _ = cancel_rx.wait_for(|c| *c) => AttemptResult::Cancelled,
            }
        };
        self.cancels.forget(task.task_id);
        let duration_ms = started.elapsed().as_millis() as i64;
        let (recorded, done) = oneshot::channel();
        let finished = self.decide(task, result, duration_ms, recorded);
        if self.finished.send(finished).is_ok() {
            // Err only when the completer is gone (shutdown): the attempt is then released.
            let _ = done.await;
        }
    }

    /// What becomes of the task after this attempt, and the event announcing it.
    fn decide(
        &self,
        task: Claimed,
        result: AttemptResult,
        duration_ms: i64,
        recorded: oneshot::Sender<()>,
    ) -> Finished {
        let outcome = result.outcome();
        let delay = self.settings.backoff.delay(task.attempt, rand_unit());
        let next = decide(result, task.attempt, task.max_attempts, delay);
        let change = after_attempt(&next, self.clock.now());
        let retry_at = match change.due {
            Due::At(at) => Some(at),
            Due::Unchanged | Due::Now => None,
        };
        let error = match &next {
            Next::Retry { error, .. } | Next::Fail { error, .. } => Some(error.clone()),
            _ => None,
        };
        let dead_letter = match &next {
            Next::Fail { error, .. } => Some(format!(
                "failed for good after {} attempt(s): {error}",
                task.attempt
            )),
            _ => None,
        };
        let event = attempt_ref(&task, &self.settings.producer).ending(
            &*self.clock,
            &next,
            duration_ms,
            retry_at,
        );
        Finished {
            task,
            outcome,
            change,
            error,
            event,
            dead_letter,
            ran: Duration::from_millis(duration_ms.max(0) as u64),
            span: tracing::Span::current(),
            recorded,
        }
    }
}

/// An attempt's task ended. A handler's panic never gets here (the attempt catches it and
/// fails); one that does is a bug of the runner itself, and its attempt is not recorded: said
/// loudly here, it is taken over when its lease expires.
pub(super) fn ended(joined: Result<(), JoinError>) {
    if let Err(error) = joined
        && error.is_panic()
    {
        tracing::error!(%error, "attempt runner panicked; its attempt is taken over when the lease expires");
    }
}

/// The span of one attempt: a child of the task's trace (the context its TaskCreated was
/// ingested in), so the attempt's events and log lines belong to the submitting request's trace.
pub(super) fn span(task: &Claimed) -> tracing::Span {
    let span = tracing::info_span!(
        "attempt",
        task_id = %task.task_id,
        task_type = %task.task_type,
        attempt = task.attempt,
        correlation_id = %task.correlation_id,
        trace_id = tracing::field::Empty,
    );
    taskflow_platform::headers::adopt_trace_context(
        &span,
        task.traceparent.as_deref(),
        task.tracestate.as_deref(),
    );
    if let Some(trace_id) = task
        .traceparent
        .as_deref()
        .and_then(taskflow_platform::headers::trace_id_of)
    {
        span.record("trace_id", trace_id);
    }
    span
}

/// The attempt, as the events it causes name it.
pub(super) fn attempt_ref(task: &Claimed, producer: &str) -> AttemptRef {
    AttemptRef {
        task_id: task.task_id,
        tenant_id: task.tenant_id,
        correlation_id: task.correlation_id.clone(),
        cause: task.created_event_id,
        attempt: task.attempt,
        producer: producer.to_owned(),
    }
}

/// A uniform draw in [0, 1) for jitter; fresh uuid bits are random enough for spreading retries.
fn rand_unit() -> f64 {
    (Uuid::new_v4().as_u128() >> 75) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
#[path = "attempt_tests.rs"]
mod tests;
