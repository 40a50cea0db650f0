//! One task's life through every service on its way: submitted to svc-tasks over HTTP, run by
//! the executor, its events projected back into `GET /v1/tasks/{id}` and its history. The
//! executor's own behaviour (retries and backoff, timeouts, cancellation, crashes, SIGTERM) is
//! tested beside it, in `svc-executor/tests/it/`.

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
