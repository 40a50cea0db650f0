//! Timeouts: an attempt that outlives its task's `timeout_ms` is stopped, logged `timed_out`,
//! and counts as a retryable failure.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{NewTask, TestExecutor};

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_attempt_times_out_and_counts_as_retryable() {
    let app = TestExecutor::spawn(4).await;
    let slow = app
        .submit(NewTask {
            max_attempts: 2,
            timeout_ms: 300,
            ..NewTask::of("sleep", json!({"duration_ms": 10_000}))
        })
        .await;
    // Two attempts of 10 s each would take 20 s: only their timeouts end them within 15 s.
    app.wait_state(slow, "failed", Duration::from_secs(15))
        .await;
    let outcomes: Vec<_> = app
        .attempts(slow)
        .await
        .into_iter()
        .map(|a| a.outcome)
        .collect();
    assert_eq!(
        outcomes,
        [Some("timed_out".to_owned()), Some("timed_out".to_owned())]
    );
    let failures: Vec<_> = app
        .events(slow)
        .await
        .into_iter()
        .filter(|e| e.event_type == "TaskFailed")
        .map(|e| e.body)
        .collect();
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert!(
        failures.iter().all(|f| f["retryable"] == true
            && f["error"].as_str().is_some_and(|e| e.contains("timed out"))),
        "{failures:?}"
    );
    assert_eq!(failures[0]["final"], false);
    assert_eq!(failures[1]["final"], true);
}
