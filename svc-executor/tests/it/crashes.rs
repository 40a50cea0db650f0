//! Instances that die or are stopped, with the real binary as a process of its own: killed with
//! SIGKILL, its leases expire and another instance takes its attempts over (every task still
//! ends exactly once); sent SIGTERM, it gives its unfinished attempt back when the drain time is
//! up and exits, and another instance runs the task without the released attempt counting.
//! (`takeover.rs` plays the completer's side of a takeover against the store.)

use std::time::Duration;

use serde_json::json;

use crate::helpers::{NewTask, TestExecutor, wait_until};

#[tokio::test(flavor = "multi_thread")]
async fn every_task_ends_exactly_once_when_an_executor_is_killed() {
    let app = TestExecutor::without_instances().await;
    let mut doomed = app.process(&app.config("ex-a", 4));
    app.start(app.config("ex-b", 4)).await;
    let mut ids = Vec::new();
    for _ in 0..24 {
        let task = NewTask {
            max_attempts: 3,
            timeout_ms: 3_000,
            ..NewTask::of("sleep", json!({"duration_ms": 1500, "steps": 3}))
        };
        ids.push(app.submit(task).await);
    }
    wait_until(
        Duration::from_secs(60),
        "both executors to be working",
        || async {
            let attempts = app.all_attempts().await;
            let busy = attempts
                .iter()
                .any(|a| a.instance == "ex-a" && a.outcome.is_none());
            let started = attempts.iter().any(|a| a.instance == "ex-b");
            (busy && started).then_some(())
        },
    )
    .await;
    doomed.signal("-KILL");
    let _ = doomed.0.wait();

    for id in &ids {
        app.wait_state(*id, "completed", Duration::from_secs(90))
            .await;
        assert_eq!(app.endings(*id).await, 1, "task {id} ended more than once");
    }
    let attempts = app.all_attempts().await;
    let lost: Vec<_> = attempts
        .iter()
        .filter(|a| a.outcome.as_deref() == Some("lost"))
        .collect();
    assert!(
        !lost.is_empty(),
        "the killed executor's running attempts were taken over: {attempts:?}"
    );
    assert!(lost.iter().all(|a| a.instance == "ex-a"), "{lost:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_releases_unfinished_attempts_to_other_instances() {
    let app = TestExecutor::without_instances().await;
    let mut config = app.config("ex-a", 4);
    config.drain = Duration::from_millis(300);
    let mut first = app.process(&config);
    // One attempt allowed, and a lease (timeout + grace) of 31 s: only a release, not an
    // expired lease, lets another instance run it to its end soon after.
    let id = app
        .submit(NewTask {
            max_attempts: 1,
            timeout_ms: 30_000,
            ..NewTask::of("sleep", json!({"duration_ms": 4000, "steps": 4}))
        })
        .await;
    app.wait_state(id, "running", Duration::from_secs(60)).await;
    first.signal("-TERM");
    let exited = wait_until(Duration::from_secs(20), "the executor to exit", || {
        std::future::ready(first.0.try_wait().ok().flatten())
    })
    .await;
    assert!(exited.success(), "graceful exit: {exited:?}");
    let attempts = app.attempts(id).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome.as_deref(), Some("released"));
    assert_eq!(app.execution(id).await.expect("execution").state, "queued");

    app.start(app.config("ex-b", 4)).await;
    app.wait_state(id, "completed", Duration::from_secs(20))
        .await;
    let attempts = app.attempts(id).await;
    let summary: Vec<_> = attempts
        .iter()
        .map(|a| (a.attempt, a.instance.as_str(), a.outcome.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            (1, "ex-a", Some("released")),
            (2, "ex-b", Some("completed"))
        ]
    );
    assert_eq!(app.endings(id).await, 1);
}
