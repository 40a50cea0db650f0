//! Cancellation (TaskCancelRequested, as svc-tasks publishes it): a running attempt is stopped
//! and logged `cancelled`; a task still queued behind other work ends without starting. Either
//! way the executor announces one TaskCancelled.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{NewTask, TestExecutor};

/// A 20 s sleep: only a cancel ends it within the tests' waits.
fn long_sleep() -> NewTask {
    NewTask {
        timeout_ms: 60_000,
        ..NewTask::of("sleep", json!({"duration_ms": 20_000, "steps": 20}))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_task_is_cancelled_on_request() {
    let app = TestExecutor::spawn(4).await;
    let long = app.submit(long_sleep()).await;
    app.wait_state(long, "running", Duration::from_secs(30))
        .await;
    app.cancel(long).await;
    app.wait_state(long, "cancelled", Duration::from_secs(10))
        .await;
    let attempts = app.attempts(long).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome.as_deref(), Some("cancelled"));
    let announced = app.announced(long).await;
    assert_eq!(announced.first().map(String::as_str), Some("TaskStarted"));
    assert_eq!(announced.last().map(String::as_str), Some("TaskCancelled"));
    assert_eq!(app.endings(long).await, 1, "{announced:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queued_task_cancelled_before_it_starts_never_starts() {
    // One slot, taken by a long task: the next one waits in the queue.
    let app = TestExecutor::spawn(1).await;
    let blocker = app.submit(long_sleep()).await;
    app.wait_state(blocker, "running", Duration::from_secs(30))
        .await;
    let waiting = app.submit(NewTask::default()).await;
    assert_eq!(app.queued(waiting).await.state, "queued");
    app.cancel(waiting).await;
    app.wait_state(waiting, "cancelled", Duration::from_secs(10))
        .await;
    assert_eq!(app.announced(waiting).await, ["TaskCancelled"]);
    assert!(app.attempts(waiting).await.is_empty(), "never started");

    // The slot's own task was not touched by the other's cancel.
    assert_eq!(
        app.execution(blocker).await.expect("execution").state,
        "running"
    );
    app.cancel(blocker).await;
    app.wait_state(blocker, "cancelled", Duration::from_secs(10))
        .await;
}
