//! The attempt runner, without a database: a handler that panics (task type `panic`, compiled
//! into unit tests only) ends its attempt as failed for good with the panic's message, instead
//! of vanishing with its task and showing up later as a lost lease.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use taskflow_schemas::Event;
use tokio::sync::{Notify, mpsc};
use uuid::Uuid;

use super::super::DispatchSettings;
use super::super::completer::Finished;
use super::super::progress::ProgressOutbox;
use super::Runner;
use crate::domain::AttemptOutcome;
use crate::domain::backoff::Backoff;
use crate::domain::execution::ExecutionState;
use crate::handlers::Handlers;
use crate::handlers::http::{HttpHandler, HttpPolicy};
use crate::store::Claimed;

/// A runner whose database is never reached (the pool connects lazily) and whose finished
/// attempts come out of the returned channel instead of going to the completer.
fn runner() -> (Arc<Runner>, mpsc::UnboundedReceiver<Finished>) {
    let (finished, outcomes) = mpsc::unbounded_channel();
    let clock = taskflow_platform::clock::system();
    let runner = Runner {
        settings: Arc::new(DispatchSettings {
            instance: "unit".into(),
            concurrency: 1,
            lease_grace: Duration::from_secs(1),
            poll: Duration::from_secs(1),
            backoff: Backoff {
                base: Duration::from_millis(100),
                cap: Duration::from_millis(400),
            },
            drain: Duration::from_secs(1),
            producer: "svc-executor/test@unit".into(),
            dead_letter_topic: "dead-letters".into(),
        }),
        handlers: Handlers::new(HttpHandler::new(HttpPolicy::default()).expect("http handler")),
        clock: clock.clone(),
        cancels: Default::default(),
        progress: Arc::new(ProgressOutbox {
            db: taskflow_platform::db::pool("postgres://nobody@127.0.0.1:1/none", 1).expect("pool"),
            clock,
            instance: "unit".into(),
            outbox_ready: Arc::new(Notify::new()),
        }),
        finished,
    };
    (Arc::new(runner), outcomes)
}

fn claimed(task_type: &str, payload: serde_json::Value, attempt: i32) -> Claimed {
    Claimed {
        task_id: Uuid::now_v7(),
        tenant_id: Uuid::now_v7(),
        task_type: task_type.into(),
        priority: 0,
        payload,
        max_attempts: 3,
        timeout_ms: 5_000,
        correlation_id: "unit".into(),
        created_event_id: Uuid::now_v7(),
        attempt,
        taken_over: false,
        traceparent: None,
        tracestate: None,
    }
}

/// Runs the attempt to its end and returns what it hands to the completer.
async fn run(task: Claimed) -> Finished {
    let (runner, mut outcomes) = runner();
    let attempt = tokio::spawn(runner.run(task));
    let finished = tokio::time::timeout(Duration::from_secs(5), outcomes.recv())
        .await
        .expect("the attempt ends")
        .expect("an outcome");
    finished
        .recorded
        .send(())
        .expect("the attempt waits for its outcome to be recorded");
    attempt
        .await
        .expect("the attempt's task ends without a panic");
    Finished {
        recorded: tokio::sync::oneshot::channel().0,
        ..finished
    }
}

#[tokio::test]
async fn a_panicking_handler_fails_its_attempt_for_good_with_the_panic_message() {
    // Attempt 1 of 3: a failure that could be retried would be.
    let task = claimed("panic", json!({"message": "index out of bounds: 7"}), 1);
    let task_id = task.task_id;
    let finished = run(task).await;

    assert_eq!(finished.task.task_id, task_id);
    assert_eq!(finished.outcome, AttemptOutcome::Failed);
    assert_eq!(finished.change.to, ExecutionState::Failed, "not retried");
    assert_eq!(
        finished.error.as_deref(),
        Some("handler panicked: index out of bounds: 7")
    );
    assert_eq!(
        finished.dead_letter.as_deref(),
        Some("failed for good after 1 attempt(s): handler panicked: index out of bounds: 7")
    );
    let Event::TaskFailed(failed) = &finished.event else {
        panic!("announced {:?}, not TaskFailed", finished.event);
    };
    assert_eq!(failed.error, "handler panicked: index out of bounds: 7");
    assert!(failed.is_final);
    assert!(!failed.retryable);
}

#[tokio::test]
async fn a_handler_that_fails_retryably_is_still_retried() {
    let finished = run(claimed("fail", json!({"message": "upstream 503"}), 1)).await;
    assert_eq!(finished.outcome, AttemptOutcome::Failed);
    assert_eq!(finished.change.to, ExecutionState::Queued, "retried");
    assert_eq!(finished.error.as_deref(), Some("upstream 503"));
    assert!(finished.dead_letter.is_none());
}
