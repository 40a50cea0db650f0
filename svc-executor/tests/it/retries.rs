//! Retries: a retryable failure is tried again after a backoff within the cap until the task's
//! attempts are used up, then fails for good and is parked on the dead-letter topic (its
//! TaskCreated, with the reason); a permanent failure is not retried.

use std::time::Duration;

use serde_json::json;
use taskflow_platform::testing::read_topic;

use crate::helpers::{NewTask, TestExecutor};

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn retryable_failures_are_retried_with_backoff_then_fail_for_good() {
    let app = TestExecutor::spawn(4).await;
    let flaky = app
        .submit(NewTask {
            max_attempts: 3,
            ..NewTask::of("fail", json!({"message": "upstream 503"}))
        })
        .await;
    let broken = app
        .submit(NewTask {
            max_attempts: 5,
            ..NewTask::of("fail", json!({"message": "bad input", "retryable": false}))
        })
        .await;

    app.wait_state(flaky, "failed", WAIT).await;
    let events = app.events(flaky).await;
    let types: Vec<_> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "TaskStarted",
            "TaskFailed",
            "TaskStarted",
            "TaskFailed",
            "TaskStarted",
            "TaskFailed"
        ]
    );
    let starts: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == "TaskStarted")
        .map(|e| e.body["attempt"].clone())
        .collect();
    assert_eq!(starts, [json!(1), json!(2), json!(3)]);
    let failures: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == "TaskFailed")
        .map(|e| &e.body)
        .collect();
    assert!(failures.iter().all(|f| f["error"] == "upstream 503"));
    assert_eq!(
        failures
            .iter()
            .map(|f| f["final"].as_bool())
            .collect::<Vec<_>>(),
        [Some(false), Some(false), Some(true)]
    );
    for failure in &failures[..2] {
        let failed_at = failure["occurred_at"].as_i64().expect("time");
        let retry_at = failure["next_attempt_at"].as_i64().expect("retry time");
        assert!(
            (failed_at..=failed_at + 400).contains(&retry_at),
            "backoff within the cap: {failure}"
        );
    }
    assert_eq!(failures[2]["next_attempt_at"], serde_json::Value::Null);
    let outcomes: Vec<_> = app
        .attempts(flaky)
        .await
        .into_iter()
        .map(|a| a.outcome)
        .collect();
    assert_eq!(outcomes, vec![Some("failed".to_owned()); 3]);

    app.wait_state(broken, "failed", WAIT).await;
    assert_eq!(
        app.attempts(broken).await.len(),
        1,
        "a permanent error is not retried"
    );
    let events = app.events(broken).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1].body["final"], true);
    assert_eq!(events[1].body["retryable"], false);

    // Both tasks are parked, as their original TaskCreated, with the reason.
    let parked = read_topic(
        &app.isolation.kafka.bootstrap_servers,
        &app.dead_letter_topic(),
        2,
    )
    .await;
    let parked_of = |task: uuid::Uuid| {
        parked
            .iter()
            .find(|r| r.key.as_deref() == Some(task.to_string().as_bytes()))
            .unwrap_or_else(|| panic!("task {task} parked"))
    };
    let parked_flaky = parked_of(flaky);
    assert_eq!(parked_flaky.header("event_type"), Some("TaskCreated"));
    let reason = parked_flaky.header("taskflow.dlq.reason").expect("reason");
    assert!(
        reason.contains("after 3 attempt(s): upstream 503"),
        "{reason}"
    );
    assert_eq!(parked_of(broken).header("event_type"), Some("TaskCreated"));
}
