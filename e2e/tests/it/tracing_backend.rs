//! One task is one trace in the real trace backend: the services `make up TRACING=1` runs export
//! their spans over OTLP/HTTP to Jaeger (deploy/up.d/40-traces.sh), and a task submitted to the
//! running svc-tasks with a caller's `traceparent` comes back from Jaeger's query API
//! (`GET /api/traces/{trace_id}`) as one trace holding the spans of svc-tasks, svc-executor and
//! svc-notify, each linked to its parent through the `traceparent` Kafka header, with the
//! OpenTelemetry messaging semantic-convention attributes (v1.27) on every Kafka consumer span.
//!
//! Unlike the other tests here it drives the processes `make up` started (found through
//! `.taskflow/dev.env`), because what it checks is their export: it fails when a service stops
//! exporting spans, stops carrying the trace through Kafka, or loses those attributes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use taskflow_schemas::{Stream, Topics};
use uuid::Uuid;

fn setting(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run `make up TRACING=1` (`make test` does) and `source .taskflow/dev.env`"
        )
    })
}

/// A span as Jaeger's query API returns it.
#[derive(Debug)]
struct Span {
    id: String,
    /// The span it is a child of (`CHILD_OF` reference), in this trace or not.
    parent: Option<String>,
    name: String,
    service: String,
    tags: HashMap<String, Value>,
    /// Resource attributes of the process that sent it (`service.instance.id`, ...).
    resource: HashMap<String, Value>,
}

impl Span {
    fn tag(&self, key: &str) -> Option<String> {
        self.tags.get(key).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }

    fn kind(&self) -> String {
        self.tag("span.kind").unwrap_or_default()
    }

    fn is_consumer_of(&self, service: &str, topic: &str) -> bool {
        self.service == service
            && self.kind() == "consumer"
            && self.tag("messaging.destination.name").as_deref() == Some(topic)
    }
}

fn key_values(list: Option<&Value>) -> HashMap<String, Value> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|kv| Some((kv["key"].as_str()?.to_owned(), kv["value"].clone())))
        .collect()
}

/// The spans Jaeger holds for `trace_id` (none while it has not seen the trace).
async fn trace(http: &reqwest::Client, traces_url: &str, trace_id: &str) -> Vec<Span> {
    let response = http
        .get(format!("{traces_url}/api/traces/{trace_id}"))
        .send()
        .await
        .expect("the trace backend answers (is it running? make up TRACING=1)");
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return Vec::new();
    }
    assert!(
        response.status().is_success(),
        "GET /api/traces/{trace_id}: {}",
        response.status()
    );
    let body: Value = response.json().await.expect("json");
    let Some(found) = body["data"].as_array().and_then(|d| d.first()) else {
        return Vec::new();
    };
    assert_eq!(found["traceID"], trace_id, "{found}");
    let processes = &found["processes"];
    found["spans"]
        .as_array()
        .expect("spans")
        .iter()
        .map(|span| {
            let process = &processes[span["processID"].as_str().expect("processID")];
            Span {
                id: span["spanID"].as_str().expect("spanID").to_owned(),
                parent: span["references"].as_array().and_then(|refs| {
                    refs.iter()
                        .find(|r| r["refType"] == "CHILD_OF")
                        .and_then(|r| r["spanID"].as_str())
                        .map(str::to_owned)
                }),
                name: span["operationName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                service: process["serviceName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                tags: key_values(span.get("tags")),
                resource: key_values(process.get("tags")),
            }
        })
        .collect()
}

/// Is `ancestor` the span itself, its parent, its parent's parent, ... within the trace?
fn descends_from(spans: &HashMap<&str, &Span>, span: &Span, ancestor: &Span) -> bool {
    let mut current = Some(span);
    let mut hops = 0;
    while let Some(s) = current {
        if s.id == ancestor.id {
            return true;
        }
        hops += 1;
        if hops > spans.len() {
            return false; // a cycle: never a descendant
        }
        current = s.parent.as_deref().and_then(|p| spans.get(p).copied());
    }
    false
}

/// The spans whose parent is not in the trace. While a trace is still arriving (each process
/// exports in its own batches), a span whose parent sits in a later batch looks like a root too;
/// so the tests wait for one root before they judge the trace's shape.
fn roots(spans: &[Span]) -> Vec<&Span> {
    let ids: std::collections::HashSet<&str> = spans.iter().map(|s| s.id.as_str()).collect();
    spans
        .iter()
        .filter(|s| s.parent.as_deref().is_none_or(|p| !ids.contains(p)))
        .collect()
}

fn show(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|s| {
            format!(
                "  {} {} [{}] {} <- {:?}",
                s.service,
                s.name,
                s.kind(),
                s.id,
                s.parent
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn one_task_is_one_trace_across_services() {
    let api = setting("TASKFLOW_API_URL");
    let key = setting("TASKFLOW_API_KEY");
    let traces_url = setting("TASKFLOW_TRACES_URL");
    let topics = Topics::new(std::env::var("TASKFLOW_TOPIC_PREFIX").unwrap_or_default());
    let requests = topics.name(Stream::TaskRequests);
    let lifecycle = topics.name(Stream::TaskExecution);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");

    // The caller: a trace of its own, whose span (not exported anywhere) is the request's parent.
    let trace_id = Uuid::new_v4().simple().to_string();
    let caller_span = format!("{:016x}", Uuid::new_v4().as_u64_pair().0 | 1);
    let response = http
        .post(format!("{api}/v1/tasks"))
        .bearer_auth(&key)
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .json(&json!({"type": "noop", "payload": {}, "labels": {"test": "tracing_backend"}}))
        .send()
        .await
        .expect("submit");
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
    let task: Value = response.json().await.expect("json");
    let task_id = task["id"].as_str().expect("id").to_owned();

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let task: Value = http
            .get(format!("{api}/v1/tasks/{task_id}"))
            .bearer_auth(&key)
            .send()
            .await
            .expect("get task")
            .json()
            .await
            .expect("json");
        if task["status"] == "completed" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "task {task_id} not completed after 60 s (is an executor running? make up): {task}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The spans arrive in batches from each process (every 200 ms with make up's settings):
    // wait until every hop of the task is there. Expected: svc-tasks' request; svc-executor's
    // consumption of TaskCreated and the attempt; svc-tasks' projector consuming TaskStarted and
    // TaskCompleted; svc-notify consuming all three.
    let complete = |spans: &[Span]| {
        let count = |service: &str, topic: &str| {
            spans
                .iter()
                .filter(|s| s.is_consumer_of(service, topic))
                .count()
        };
        spans
            .iter()
            .any(|s| s.service == "svc-tasks" && s.kind() == "server")
            && spans
                .iter()
                .any(|s| s.service == "svc-executor" && s.name == "attempt")
            && count("svc-executor", &requests) >= 1
            && count("svc-tasks", &lifecycle) >= 2
            && count("svc-notify", &requests) >= 1
            && count("svc-notify", &lifecycle) >= 2
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let spans = loop {
        let spans = trace(&http, &traces_url, &trace_id).await;
        if complete(&spans) && roots(&spans).len() == 1 {
            break spans;
        }
        assert!(
            Instant::now() < deadline,
            "trace {trace_id} of task {task_id} is incomplete in {traces_url} 30 s after the task \
             completed; it holds:\n{}",
            show(&spans)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let by_id: HashMap<&str, &Span> = spans.iter().map(|s| (s.id.as_str(), s)).collect();
    let everything = show(&spans);

    // One root: the HTTP request, whose parent is the caller's span. Every other span's parent
    // is in the trace.
    let roots = roots(&spans);
    assert_eq!(roots.len(), 1, "one root span expected:\n{everything}");
    let request = roots[0];
    assert_eq!(
        (request.service.as_str(), request.kind().as_str()),
        ("svc-tasks", "server"),
        "the root is svc-tasks' request span:\n{everything}"
    );
    assert_eq!(
        request.parent.as_deref(),
        Some(caller_span.as_str()),
        "{everything}"
    );
    assert_eq!(request.tag("method").as_deref(), Some("POST"));
    assert_eq!(request.tag("path").as_deref(), Some("/v1/tasks"));

    // svc-executor took TaskCreated in the request's trace, and ran the attempt inside that.
    let taken = spans
        .iter()
        .find(|s| s.is_consumer_of("svc-executor", &requests))
        .expect("checked above");
    let sent = by_id[taken.parent.as_deref().expect("a parent")];
    assert!(
        sent.service == "svc-tasks" && sent.name == format!("send {requests}"),
        "the executor's consumption of TaskCreated is a child of svc-tasks' send span:\n{everything}"
    );
    // The outbox relay's send: a producer span in the request's trace, per semconv v1.27.
    assert_eq!(sent.kind(), "producer", "{sent:?}");
    assert_eq!(sent.tag("messaging.system").as_deref(), Some("kafka"));
    assert_eq!(
        sent.tag("messaging.operation.type").as_deref(),
        Some("send")
    );
    assert_eq!(
        sent.tag("messaging.destination.name").as_deref(),
        Some(requests.as_str())
    );
    assert!(descends_from(&by_id, sent, request), "{everything}");
    assert!(descends_from(&by_id, taken, request), "{everything}");
    let attempt = spans
        .iter()
        .find(|s| s.service == "svc-executor" && s.name == "attempt")
        .expect("checked above");
    assert!(
        descends_from(&by_id, attempt, taken),
        "the attempt runs in the trace of the TaskCreated it was queued from:\n{everything}"
    );
    assert_eq!(attempt.tag("task_id").as_deref(), Some(task_id.as_str()));
    assert!(
        attempt
            .resource
            .get("service.instance.id")
            .and_then(Value::as_str)
            .is_some_and(|id| id.starts_with("executor-")),
        "svc-executor names its instance (OTEL_RESOURCE_ATTRIBUTES): {:?}",
        attempt.resource
    );

    // The attempt's events (TaskStarted, TaskCompleted) are consumed in its trace, by svc-tasks'
    // projector and by svc-notify; svc-notify's TaskCreated in the request's.
    for span in spans.iter().filter(|s| s.kind() == "consumer") {
        let topic = span.tag("messaging.destination.name").unwrap_or_default();
        if topic == lifecycle {
            assert!(
                descends_from(&by_id, span, attempt),
                "{} consumed {topic} outside the attempt's trace:\n{everything}",
                span.service
            );
        } else {
            assert_eq!(topic, requests, "{everything}");
            assert!(descends_from(&by_id, span, request), "{everything}");
        }
        // OpenTelemetry semantic conventions for messaging, v1.27 (Kafka).
        assert_eq!(span.name, format!("process {topic}"), "{span:?}");
        assert_eq!(span.tag("messaging.system").as_deref(), Some("kafka"));
        assert_eq!(
            span.tag("messaging.operation.type").as_deref(),
            Some("process")
        );
        assert_eq!(
            span.tag("messaging.consumer.group.name").as_deref(),
            Some(span.service.as_str()),
            "each service consumes in its own group named after it: {span:?}"
        );
        assert_eq!(
            span.tag("messaging.kafka.message.key").as_deref(),
            Some(task_id.as_str())
        );
        assert!(
            span.tag("messaging.destination.partition.id")
                .is_some_and(|p| p.parse::<u32>().is_ok()),
            "{span:?}"
        );
        assert!(
            span.tag("messaging.kafka.offset")
                .is_some_and(|o| o.parse::<u64>().is_ok()),
            "{span:?}"
        );
        assert!(
            span.tag("messaging.message.id")
                .is_some_and(|id| Uuid::parse_str(&id).is_ok()),
            "{span:?}"
        );
    }
    let services: std::collections::BTreeSet<&str> =
        spans.iter().map(|s| s.service.as_str()).collect();
    assert_eq!(
        services.into_iter().collect::<Vec<_>>(),
        ["svc-executor", "svc-notify", "svc-tasks"],
        "{everything}"
    );
}

/// The first trace Jaeger finds for `service`'s `operation` spans tagged `tag=value`.
async fn find_trace(
    http: &reqwest::Client,
    traces_url: &str,
    service: &str,
    operation: &str,
    tag: (&str, &str),
) -> Option<String> {
    let tags = json!({ tag.0: tag.1 }).to_string();
    let url = reqwest::Url::parse_with_params(
        &format!("{traces_url}/api/traces"),
        [
            ("service", service),
            ("operation", operation),
            ("tags", tags.as_str()),
            ("limit", "5"),
            ("lookback", "1h"),
        ],
    )
    .ok()?;
    let body: Value = http.get(url).send().await.ok()?.json().await.ok()?;
    body["data"].as_array()?.first()?["traceID"]
        .as_str()
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_task_is_one_trace_from_the_schedulers_decision() {
    let scheduler = setting("TASKFLOW_SCHEDULER_URL");
    let api = setting("TASKFLOW_API_URL");
    let key = setting("TASKFLOW_API_KEY");
    let traces_url = setting("TASKFLOW_TRACES_URL");
    let topics = Topics::new(std::env::var("TASKFLOW_TOPIC_PREFIX").unwrap_or_default());
    let triggers = topics.name(Stream::ScheduleTriggers);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");

    // A one-off schedule two seconds from now.
    let at = chrono::Utc::now() + chrono::Duration::seconds(2);
    let created: Value = http
        .post(format!("{scheduler}/v1/schedules"))
        .bearer_auth(&key)
        .json(&json!({
            "name": format!("traced-{}", Uuid::new_v4().simple()),
            "task": {"type": "noop", "payload": {}},
            "spec": {"at": at.to_rfc3339()},
        }))
        .send()
        .await
        .expect("create schedule")
        .json()
        .await
        .expect("json");
    let schedule_id = created["id"]
        .as_str()
        .unwrap_or_else(|| panic!("a schedule: {created}"))
        .to_owned();

    // Its task runs to completion in svc-tasks and the executor.
    let deadline = Instant::now() + Duration::from_secs(60);
    let task_id = loop {
        let page: Value = http
            .get(format!(
                "{scheduler}/v1/schedules/{schedule_id}/occurrences"
            ))
            .bearer_auth(&key)
            .send()
            .await
            .expect("occurrences")
            .json()
            .await
            .expect("json");
        let task_id = page["items"]
            .as_array()
            .and_then(|items| items.first())
            .and_then(|o| o["task_id"].as_str())
            .map(str::to_owned);
        if let Some(task_id) = task_id {
            let task: Value = http
                .get(format!("{api}/v1/tasks/{task_id}"))
                .bearer_auth(&key)
                .send()
                .await
                .expect("get task")
                .json()
                .await
                .expect("json");
            if task["status"] == "completed" {
                break task_id;
            }
        }
        assert!(
            Instant::now() < deadline,
            "schedule {schedule_id}'s task not completed after 60 s: {page}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // One trace from the decision to the attempt.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (trace_id, spans) = loop {
        if let Some(id) = find_trace(
            &http,
            &traces_url,
            "svc-scheduler",
            "fire schedule",
            ("schedule_id", &schedule_id),
        )
        .await
        {
            let spans = trace(&http, &traces_url, &id).await;
            // Each process exports its spans in its own batches: wait for every hop.
            let has = |service: &str, name: &str| {
                spans.iter().any(|s| s.service == service && s.name == name)
            };
            let has_attempt = spans.iter().any(|s| {
                s.service == "svc-executor"
                    && s.name == "attempt"
                    && s.tag("task_id").as_deref() == Some(task_id.as_str())
            });
            let complete = has_attempt
                && has("svc-scheduler", "fire schedule")
                && has("svc-scheduler", &format!("send {triggers}"))
                && has("svc-tasks", &format!("process {triggers}"))
                && has(
                    "svc-tasks",
                    &format!("send {}", topics.name(Stream::TaskRequests)),
                )
                && has(
                    "svc-executor",
                    &format!("process {}", topics.name(Stream::TaskRequests)),
                );
            if complete && roots(&spans).len() == 1 {
                break (id, spans);
            }
        }
        assert!(
            Instant::now() < deadline,
            "no complete trace of schedule {schedule_id}'s decision in {traces_url}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let everything = show(&spans);
    let by_id: HashMap<&str, &Span> = spans.iter().map(|s| (s.id.as_str(), s)).collect();
    let roots = roots(&spans);
    assert_eq!(roots.len(), 1, "trace {trace_id}: one root:\n{everything}");
    let fire = roots[0];
    assert_eq!(
        (fire.service.as_str(), fire.name.as_str()),
        ("svc-scheduler", "fire schedule"),
        "{everything}"
    );
    let sent = spans
        .iter()
        .find(|s| s.service == "svc-scheduler" && s.name == format!("send {triggers}"))
        .unwrap_or_else(|| panic!("the scheduler's outbox send:\n{everything}"));
    assert!(descends_from(&by_id, sent, fire), "{everything}");
    let made = spans
        .iter()
        .find(|s| s.is_consumer_of("svc-tasks", &triggers))
        .unwrap_or_else(|| panic!("svc-tasks consuming the trigger:\n{everything}"));
    assert!(descends_from(&by_id, made, sent), "{everything}");
    let attempt = spans
        .iter()
        .find(|s| s.service == "svc-executor" && s.name == "attempt")
        .expect("checked above");
    assert!(
        descends_from(&by_id, attempt, made),
        "the attempt runs in the trace of the trigger that created its task:\n{everything}"
    );
}
