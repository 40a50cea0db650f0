use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{System, read_topic, types};

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn submitted_tasks_run_to_completion_with_progress() {
    let system = System::start().await;
    system.executor("ex-1", 4).await;
    let tenant = system.tenant().await;
    let noop = system.submit(&tenant, json!({"type": "noop"})).await;
    let sleep = system
        .submit(
            &tenant,
            json!({"type": "sleep", "payload": {"duration_ms": 300, "steps": 3}}),
        )
        .await;

    let done = system.wait_status(&tenant, &noop, "completed", WAIT).await;
    assert_eq!(done["attempts"], 1);
    let done = system.wait_status(&tenant, &sleep, "completed", WAIT).await;
    assert_eq!(done["progress"]["percent"], 100);
    assert_eq!(done["result"]["steps"], 3);
    let history = system.history(&tenant, &sleep).await;
    assert_eq!(
        types(&history),
        [
            "TaskCreated",
            "TaskStarted",
            "TaskProgressUpdated",
            "TaskProgressUpdated",
            "TaskProgressUpdated",
            "TaskCompleted"
        ]
    );
    assert_eq!(history[1]["data"]["instance"], "ex-1");
    assert_eq!(history[5]["data"]["causation_id"], history[0]["event_id"]);
    assert_eq!(history[5]["correlation_id"], history[0]["correlation_id"]);

    let topic = system
        .kafka
        .topics
        .name(taskflow_schemas::Stream::TaskExecution);
    let records = read_topic(&system.kafka.bootstrap_servers, &topic, 7).await;
    let completed: Vec<_> = records
        .iter()
        .filter(|r| r.header("event_type") == Some("TaskCompleted"))
        .collect();
    assert_eq!(completed.len(), 2);
    assert!(
        completed
            .iter()
            .any(|r| r.key.as_deref() == Some(noop.as_bytes()))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn retryable_failures_are_retried_with_backoff_then_fail_for_good() {
    let system = System::start().await;
    system.executor("ex-1", 4).await;
    let tenant = system.tenant().await;
    let flaky = system
        .submit(
            &tenant,
            json!({"type": "fail", "payload": {"message": "upstream 503"}, "max_attempts": 3}),
        )
        .await;
    let broken = system.submit(&tenant, json!({"type": "fail", "payload": {"message": "bad input", "retryable": false}, "max_attempts": 5})).await;

    let failed = system.wait_status(&tenant, &flaky, "failed", WAIT).await;
    assert_eq!(failed["attempts"], 3);
    assert_eq!(failed["error"], "upstream 503");
    let history = system.history(&tenant, &flaky).await;
    let failures: Vec<_> = history
        .iter()
        .filter(|e| e["type"] == "TaskFailed")
        .collect();
    assert_eq!(failures.len(), 3);
    assert_eq!(
        failures
            .iter()
            .map(|f| f["data"]["final"].as_bool())
            .collect::<Vec<_>>(),
        [Some(false), Some(false), Some(true)]
    );
    for failure in &failures[..2] {
        let failed_at = failure["data"]["occurred_at"].as_i64().expect("time");
        let retry_at = failure["data"]["next_attempt_at"]
            .as_i64()
            .expect("retry time");
        assert!(
            (failed_at..=failed_at + 400).contains(&retry_at),
            "backoff within the cap: {failure}"
        );
    }
    let starts: Vec<_> = history
        .iter()
        .filter(|e| e["type"] == "TaskStarted")
        .map(|e| e["data"]["attempt"].clone())
        .collect();
    assert_eq!(starts, [json!(1), json!(2), json!(3)]);

    let failed = system.wait_status(&tenant, &broken, "failed", WAIT).await;
    assert_eq!(failed["attempts"], 1, "a permanent error is not retried");

    // Both tasks are parked, as their original TaskCreated, with the reason.
    let dead_letters = system
        .kafka
        .topics
        .dead_letter(&format!("it-{}-svc-executor", system.id));
    let parked = read_topic(&system.kafka.bootstrap_servers, &dead_letters, 2).await;
    let parked_flaky = parked
        .iter()
        .find(|r| r.key.as_deref() == Some(flaky.as_bytes()))
        .expect("flaky task parked");
    assert_eq!(parked_flaky.header("event_type"), Some("TaskCreated"));
    assert_eq!(
        parked_flaky.header("event_id"),
        history[0]["event_id"].as_str()
    );
    let reason = parked_flaky.header("taskflow.dlq.reason").expect("reason");
    assert!(
        reason.contains("after 3 attempt(s): upstream 503"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_attempt_times_out_and_counts_as_retryable() {
    let system = System::start().await;
    system.executor("ex-1", 4).await;
    let tenant = system.tenant().await;
    let slow = system.submit(&tenant, json!({"type": "sleep", "payload": {"duration_ms": 10000}, "timeout_ms": 300, "max_attempts": 2})).await;
    let failed = system.wait_status(&tenant, &slow, "failed", WAIT).await;
    assert_eq!(failed["attempts"], 2);
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.contains("timed out")),
        "{failed}"
    );
    let outcomes: Vec<_> = system
        .attempts()
        .await
        .into_iter()
        .map(|a| a.outcome)
        .collect();
    assert_eq!(outcomes, ["timed_out", "timed_out"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_task_is_cancelled_on_request() {
    let system = System::start().await;
    system.executor("ex-1", 4).await;
    let tenant = system.tenant().await;
    let long = system
        .submit(
            &tenant,
            json!({"type": "sleep", "payload": {"duration_ms": 20000, "steps": 20}}),
        )
        .await;
    system.wait_status(&tenant, &long, "running", WAIT).await;
    assert_eq!(
        system.cancel(&tenant, &long).await,
        reqwest::StatusCode::ACCEPTED
    );
    let cancelled = system
        .wait_status(&tenant, &long, "cancelled", Duration::from_secs(15))
        .await;
    assert!(cancelled["finished_at"].is_string());
    let history = system.history(&tenant, &long).await;
    assert_eq!(
        types(&history).last().map(String::as_str),
        Some("TaskCancelled")
    );
    assert_eq!(system.attempts().await[0].outcome, "cancelled");
}

/// A one-shot local HTTP server answering `response` to the first request.
async fn serve_once(response: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        if let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = [0u8; 4096];
            let _ = socket.read(&mut buffer).await;
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread")]
async fn the_http_handler_calls_a_local_endpoint() {
    let system = System::start().await;
    system.executor("ex-1", 4).await;
    let tenant = system.tenant().await;
    let url = serve_once("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello").await;
    let call = system
        .submit(
            &tenant,
            json!({"type": "http", "payload": {"url": url, "method": "POST", "body": "ping"}}),
        )
        .await;
    let done = system.wait_status(&tenant, &call, "completed", WAIT).await;
    assert_eq!(done["result"]["status"], 200);
    assert_eq!(done["result"]["body"], "hello");
}
