//! Delayed tasks (TaskCreated.run_at): not started before run_at, started promptly after it
//! (woken for, not polled: the poll here is 5 s), cancellable while they wait, and never in the
//! way of work that is due.

use std::time::Duration;

use chrono::Utc;
use taskflow_schemas::Priority;

use crate::helpers::{POLL, TestExecutor};

/// run_at to ms, as TaskCreated carries it.
fn in_ms(from_now: chrono::Duration) -> chrono::DateTime<Utc> {
    let at = Utc::now() + from_now;
    chrono::DateTime::from_timestamp_millis(at.timestamp_millis()).expect("instant")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delayed_task_starts_just_after_run_at_and_not_before() {
    // Two slots, so that claiming the other task below leaves one free: no claim follows its
    // end, and only a remembered due time (or a wake-up at run_at) starts the delayed task.
    let app = TestExecutor::spawn(2).await;
    let run_at = in_ms(chrono::Duration::milliseconds(1_500));
    let delayed = app.create(Priority::Critical, Some(run_at)).await;
    let queued = app.queued(delayed).await;
    assert_eq!(queued.state, "queued");
    assert_eq!(queued.due_at, run_at, "due at its run_at");

    // Work arriving meanwhile runs at once, and its claim and end (wake-ups of their own) do
    // not make the dispatcher forget when the delayed task falls due.
    let now = app.create(Priority::Low, None).await;
    let other = app.first_attempt_ended(now, Duration::from_secs(5)).await;
    assert_eq!(other.outcome.as_deref(), Some("completed"));
    assert!(other.started_at < run_at, "due work is not held up");

    let started = app
        .first_attempt_ended(delayed, Duration::from_secs(10))
        .await;
    let late = started.started_at - run_at;
    eprintln!(
        "delayed task started {} ms after run_at",
        late.num_milliseconds()
    );
    assert!(
        late >= chrono::Duration::zero(),
        "started {late} before run_at"
    );
    assert!(
        late < chrono::Duration::seconds(1),
        "started {late} after run_at (poll is {POLL:?})"
    );
    assert_eq!(started.outcome.as_deref(), Some("completed"));
    assert_eq!(
        app.announced(delayed).await,
        ["TaskStarted", "TaskCompleted"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delayed_task_cancelled_before_run_at_ends_without_starting() {
    let app = TestExecutor::spawn(2).await;
    let delayed = app
        .create(Priority::Normal, Some(in_ms(chrono::Duration::hours(1))))
        .await;
    assert_eq!(app.queued(delayed).await.state, "queued");
    app.cancel(delayed).await;
    crate::helpers::wait_until(
        Duration::from_secs(10),
        "the task to be cancelled",
        || async {
            let state = app.execution(delayed).await.map(|e| e.state);
            (state.as_deref() == Some("cancelled")).then_some(())
        },
    )
    .await;
    assert_eq!(app.announced(delayed).await, ["TaskCancelled"]);
    assert!(app.attempts(delayed).await.is_empty(), "never started");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_whose_run_at_has_passed_runs_at_once_behind_earlier_work() {
    let app = TestExecutor::spawn(1).await;
    // A far-off critical task of the same tenant neither takes the one slot nor goes first.
    let later = app
        .create(Priority::Critical, Some(in_ms(chrono::Duration::hours(1))))
        .await;
    app.queued(later).await;
    let past = app
        .create(Priority::Low, Some(in_ms(chrono::Duration::hours(-1))))
        .await;
    let attempt = app.first_attempt_ended(past, Duration::from_secs(5)).await;
    assert_eq!(attempt.outcome.as_deref(), Some("completed"));
    let queued = app.execution(past).await.expect("execution");
    // Due when it was queued, not an hour ago: a past run_at does not jump the queue.
    assert_eq!(queued.due_at, queued.created_at);
    let waited = attempt.started_at - queued.created_at;
    assert!(
        waited < chrono::Duration::milliseconds(500),
        "started {waited} after it was queued (poll is {POLL:?})"
    );
    assert!(app.attempts(later).await.is_empty());
    assert_eq!(app.execution(later).await.expect("row").state, "queued");
}
