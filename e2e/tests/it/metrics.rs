//! `GET /metrics` after a known workload: the counts add up. Each nextest test runs in its own
//! process, so the process-wide registry holds exactly this test's workload.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use svc_executor::startup::Application as Executor;
use taskflow_schemas::Topics;

use crate::helpers::{System, wait_until};

/// One sample of the text format: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|pair| !pair.is_empty())
                .filter_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    Some((k.to_owned(), v.trim_matches('"').to_owned()))
                })
                .collect();
            Some(Sample {
                name: name.to_owned(),
                labels,
                value: value.parse().ok()?,
            })
        })
        .collect()
}

/// The value of `name` with (at least) these labels, summed over the rest.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

async fn scrape(http: &reqwest::Client, base: &str) -> Vec<Sample> {
    let response = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("scrape");
    assert!(response.status().is_success(), "{}", response.status());
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    parse(&response.text().await.expect("text"))
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_known_workload_the_counts_add_up() {
    let system = System::start().await;
    let executor = Executor::build(system.executor_config("executor-1", 8))
        .await
        .expect("executor");
    let executor_url = format!("http://127.0.0.1:{}", executor.port());
    tokio::spawn(executor.run_until_stopped());
    let tenant = system.tenant().await;

    let mut noops = Vec::new();
    for _ in 0..3 {
        noops.push(system.submit(&tenant, json!({"type": "noop"})).await);
    }
    let failing = system
        .submit(
            &tenant,
            json!({"type": "fail", "payload": {"message": "no"}, "max_attempts": 2}),
        )
        .await;
    for id in &noops {
        system
            .wait_status(&tenant, id, "completed", Duration::from_secs(60))
            .await;
    }
    system
        .wait_status(&tenant, &failing, "failed", Duration::from_secs(60))
        .await;

    let http = reqwest::Client::new();
    let dead_letters = Topics::new(format!("it-{}.", system.id))
        .dead_letter(&format!("it-{}-svc-executor", system.id));
    // The projector counts a task's end once it has committed it; the relay parks the dead
    // letter once it published it: wait for both.
    let samples = wait_until(Duration::from_secs(30), "every count", || async {
        let samples = scrape(&http, &system.api).await;
        let finished = value(&samples, "taskflow_tasks_finished_total", &[]);
        let parked = value(
            &samples,
            "taskflow_dead_letters_total",
            &[("topic", dead_letters.as_str())],
        );
        (finished == 4.0 && parked == 1.0).then_some(samples)
    })
    .await;
    let api = [("source", "api")];
    assert_eq!(
        value(
            &samples,
            "taskflow_tasks_submitted_total",
            &[("type", "noop"), api[0]]
        ),
        3.0
    );
    assert_eq!(
        value(
            &samples,
            "taskflow_tasks_submitted_total",
            &[("type", "fail"), ("priority", "normal")]
        ),
        1.0
    );
    let attempts = |task_type: &str, outcome: &str| {
        value(
            &samples,
            "taskflow_task_attempts_total",
            &[("type", task_type), ("outcome", outcome)],
        )
    };
    assert_eq!(attempts("noop", "completed"), 3.0);
    assert_eq!(attempts("fail", "failed"), 2.0, "two attempts, both failed");
    assert_eq!(value(&samples, "taskflow_task_attempts_total", &[]), 5.0);
    let finished = |task_type: &str, status: &str| {
        value(
            &samples,
            "taskflow_tasks_finished_total",
            &[("type", task_type), ("status", status)],
        )
    };
    assert_eq!(finished("noop", "completed"), 3.0);
    assert_eq!(finished("fail", "failed"), 1.0);
    assert_eq!(
        value(
            &samples,
            "taskflow_task_queue_wait_seconds_count",
            &[("type", "noop")]
        ),
        3.0,
        "one queue wait per task (its first attempt)"
    );
    assert_eq!(
        value(&samples, "taskflow_task_run_seconds_count", &[]),
        5.0,
        "one run per attempt"
    );
    assert_eq!(
        value(
            &samples,
            "taskflow_http_request_duration_seconds_count",
            &[
                ("method", "POST"),
                ("route", "/v1/tasks"),
                ("status", "201")
            ]
        ),
        4.0
    );
    // Templates, never paths: the four task ids polled above are one route.
    assert!(
        value(
            &samples,
            "taskflow_http_request_duration_seconds_count",
            &[("method", "GET"), ("route", "/v1/tasks/{id}")]
        ) >= 4.0
    );
    assert!(
        samples
            .iter()
            .filter(|s| s.name == "taskflow_http_request_duration_seconds_count")
            .all(|s| !s.labels["route"].contains(&noops[0])),
        "no task id in a label"
    );
    let consumed = |group: &str| {
        value(
            &samples,
            "taskflow_events_consumed_total",
            &[("group", &format!("it-{}-{group}", system.id))],
        )
    };
    assert!(consumed("svc-executor") >= 4.0, "the four TaskCreated");
    assert!(
        consumed("svc-tasks") >= 10.0,
        "starts and ends of five attempts"
    );
    assert!(
        samples
            .iter()
            .any(|s| s.name == "process_cpu_seconds_total"),
        "process metrics"
    );

    // The executor's own endpoint reads the queue from its database when scraped.
    let executor_group = format!("it-{}-svc-executor", system.id);
    let samples = wait_until(Duration::from_secs(30), "an empty queue", || async {
        let samples = scrape(&http, &executor_url).await;
        let present = samples.iter().any(|s| s.name == "taskflow_queue_depth");
        let depth = value(&samples, "taskflow_queue_depth", &[]);
        let backlog = value(&samples, "taskflow_outbox_backlog", &[]);
        // librdkafka's statistics come every 5 s: the executor's group has read everything.
        let lag = samples.iter().find(|s| {
            s.name == "taskflow_consumer_lag"
                && s.labels.get("group").map(String::as_str) == Some(executor_group.as_str())
        });
        let caught_up = lag.is_some_and(|lag| lag.value == 0.0);
        (present && depth == 0.0 && backlog == 0.0 && caught_up).then_some(samples)
    })
    .await;
    assert_eq!(
        value(&samples, "taskflow_oldest_ready_task_age_seconds", &[]),
        0.0
    );
    assert!(
        samples
            .iter()
            .any(|s| s.name == "taskflow_outbox_oldest_age_seconds")
    );
}
