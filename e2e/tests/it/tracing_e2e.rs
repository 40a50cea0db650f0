//! One trace from request to outcome: the caller's `traceparent` reaches every event the task
//! causes on Kafka — published by the real outbox relays of both services — and the log lines
//! of the executor's attempt and of svc-tasks' projector for that task name the trace.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use serde_json::json;
use taskflow_platform::testing::read_topic;
use taskflow_schemas::Stream;
use tracing_subscriber::layer::SubscriberExt;
use uuid::Uuid;

use crate::helpers::System;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut lines) = self.0.lock() {
            lines.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// What `taskflow_platform::telemetry::init` installs, with the JSON log lines captured.
fn install_telemetry() -> Captured {
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::DEBUG)
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_writer(move || writer.clone()),
        )
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("it")));
    tracing::subscriber::set_global_default(subscriber).expect("one subscriber per test process");
    captured
}

fn carries(traceparent: Option<&str>, trace_id: &str) -> bool {
    traceparent.is_some_and(|tp| tp.starts_with(&format!("00-{trace_id}-")))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_callers_trace_reaches_every_event_and_log_line_of_its_task() {
    let logs = install_telemetry();
    let system = System::start().await;
    system.executor("trace-1", 2).await;
    let tenant = system.tenant().await;

    let trace_id = Uuid::new_v4().simple().to_string();
    let response = system
        .http
        .post(format!("{}/v1/tasks", system.api))
        .bearer_auth(&tenant.key)
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .json(&json!({"type": "sleep", "payload": {"duration_ms": 200, "steps": 2}}))
        .send()
        .await
        .expect("submit");
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
    let task: serde_json::Value = response.json().await.expect("json");
    let id = task["id"].as_str().expect("id").to_owned();
    system
        .wait_status(&tenant, &id, "completed", Duration::from_secs(60))
        .await;

    let bootstrap = &system.kafka.bootstrap_servers;
    let created = read_topic(
        bootstrap,
        &system.kafka.topics.name(Stream::TaskRequests),
        1,
    )
    .await;
    let lifecycle = read_topic(
        bootstrap,
        &system.kafka.topics.name(Stream::TaskExecution),
        4,
    )
    .await;
    let types: Vec<&str> = lifecycle
        .iter()
        .filter_map(|r| r.header("event_type"))
        .collect();
    assert_eq!(
        types,
        [
            "TaskStarted",
            "TaskProgressUpdated",
            "TaskProgressUpdated",
            "TaskCompleted"
        ]
    );
    for record in created.iter().chain(&lifecycle) {
        assert!(
            carries(record.header("traceparent"), &trace_id),
            "{:?} carries {:?}, not trace {trace_id}",
            record.header("event_type"),
            record.header("traceparent")
        );
    }

    let lines = logs.lines();
    let about_task: Vec<&String> = lines.iter().filter(|l| l.contains(&id)).collect();
    let attempt_ended = about_task
        .iter()
        .find(|l| l.contains("attempt ended"))
        .expect("the executor logged the attempt's end");
    assert!(attempt_ended.contains(&trace_id), "{attempt_ended}");
    let projected: Vec<_> = about_task
        .iter()
        .filter(|l| l.contains("task projected"))
        .collect();
    assert!(!projected.is_empty(), "the projector logged the task");
    for line in projected {
        assert!(line.contains(&trace_id), "{line}");
    }
}

/// Without a caller's `traceparent`, the request's own span starts the trace, and the task's
/// events on both topics still share it.
#[tokio::test(flavor = "multi_thread")]
async fn without_a_callers_trace_the_request_starts_one_that_its_events_share() {
    let _logs = install_telemetry();
    let system = System::start().await;
    system.executor("trace-2", 2).await;
    let tenant = system.tenant().await;
    let id = system.submit(&tenant, json!({"type": "noop"})).await;
    system
        .wait_status(&tenant, &id, "completed", Duration::from_secs(60))
        .await;
    let bootstrap = &system.kafka.bootstrap_servers;
    let created = read_topic(
        bootstrap,
        &system.kafka.topics.name(Stream::TaskRequests),
        1,
    )
    .await;
    let traceparent = created[0]
        .header("traceparent")
        .expect("TaskCreated traceparent");
    let trace_id = taskflow_platform::headers::trace_id_of(traceparent)
        .expect("a valid trace id")
        .to_owned();
    let lifecycle = read_topic(
        bootstrap,
        &system.kafka.topics.name(Stream::TaskExecution),
        2,
    )
    .await;
    for record in &lifecycle {
        assert!(
            carries(record.header("traceparent"), &trace_id),
            "{:?} is not in trace {trace_id}",
            record.header("traceparent")
        );
    }
}
