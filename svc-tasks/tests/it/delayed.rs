//! Delayed tasks: `run_at` / `delay_ms` on submission, the `scheduled` status, and the instant
//! carried to the executor in TaskCreated.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use taskflow_platform::codec::EventCodec;
use taskflow_schemas::{Event, Stream, TaskCreated};

use crate::helpers::{TestApp, assert_problem, drain_topic, json_of, noop, wait_until};
use crate::projection::rebuild_and_wait;

fn time_of(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|s| s.parse::<DateTime<Utc>>().ok())
        .unwrap_or_else(|| panic!("a timestamp, not {value}"))
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Every TaskCreated on the requests topic, once the outbox has published all it holds.
async fn task_created_on_kafka(app: &TestApp) -> Vec<TaskCreated> {
    wait_until(Duration::from_secs(30), "the outbox published", || async {
        (app.outbox_unpublished().await == 0).then_some(())
    })
    .await;
    let codec = EventCodec::new(&app.registry, app.kafka.topics.clone());
    let mut created = Vec::new();
    let topic = app.topic(Stream::TaskRequests);
    for record in drain_topic(&app.kafka.bootstrap_servers, &topic).await {
        if let Event::TaskCreated(e) = codec.decode(Some(&record.payload)).await.expect("event") {
            created.push(e);
        }
    }
    created
}

fn pointers(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["pointer"].as_str().expect("pointer").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delayed_submission_is_scheduled_and_its_task_created_carries_run_at() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let at =
        DateTime::from_timestamp_millis((Utc::now() + TimeDelta::minutes(10)).timestamp_millis())
            .expect("time");
    let by_time = json_of(
        app.submit(
            &tenant,
            &json!({"type": "noop", "run_at": rfc3339(at)}),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(by_time["status"], "scheduled", "{by_time}");
    assert_eq!(time_of(&by_time["run_at"]), at);

    let before = Utc::now();
    let response = app
        .submit(
            &tenant,
            &json!({"type": "noop", "delay_ms": 5000}),
            Some("later-1"),
        )
        .await;
    let after = Utc::now();
    assert_eq!(response.status(), StatusCode::CREATED);
    let by_delay = json_of(response).await;
    assert_eq!(by_delay["status"], "scheduled", "{by_delay}");
    let run_at = time_of(&by_delay["run_at"]);
    let earliest = before + TimeDelta::milliseconds(5000) - TimeDelta::milliseconds(1);
    let latest = after + TimeDelta::milliseconds(5000);
    assert!(
        (earliest..=latest).contains(&run_at),
        "{run_at} not within now + 5 s ({earliest}..={latest})"
    );
    let id = by_delay["id"].as_str().expect("id");
    let read = json_of(app.get(&tenant, &format!("/v1/tasks/{id}")).await).await;
    assert_eq!(read, by_delay);

    // The same body again, later: the original task, not a new delay from a new "now".
    let replay = app
        .submit(
            &tenant,
            &json!({"type": "noop", "delay_ms": 5000}),
            Some("later-1"),
        )
        .await;
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(json_of(replay).await, by_delay);
    let other_delay = app
        .submit(
            &tenant,
            &json!({"type": "noop", "delay_ms": 6000}),
            Some("later-1"),
        )
        .await;
    assert_eq!(other_delay.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let now = json_of(app.submit(&tenant, &noop(), None).await).await;
    assert_eq!(now["status"], "pending");
    assert_eq!(now["run_at"], Value::Null, "run_at is shown, as null");
    // Due at once (0 ms, or a past instant within the skew tolerance): pending, with its run_at.
    let skewed = rfc3339(Utc::now() - TimeDelta::seconds(30));
    for body in [
        json!({"type": "noop", "delay_ms": 0}),
        json!({"type": "noop", "run_at": skewed}),
    ] {
        let task = json_of(app.submit(&tenant, &body, None).await).await;
        assert_eq!(task["status"], "pending", "{body}");
        assert!(task["run_at"].is_string(), "{task}");
    }

    let created = task_created_on_kafka(&app).await;
    assert_eq!(created.len(), 5);
    let on_kafka = |id: &Value| {
        created
            .iter()
            .find(|c| c.task_id.to_string() == id.as_str().expect("id"))
            .unwrap_or_else(|| panic!("TaskCreated of {id}"))
            .run_at
    };
    assert_eq!(on_kafka(&by_time["id"]), Some(at.timestamp_millis()));
    assert_eq!(on_kafka(&by_delay["id"]), Some(run_at.timestamp_millis()));
    assert_eq!(on_kafka(&now["id"]), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn conflicting_or_out_of_window_delays_are_refused_at_their_pointers() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let ahead = rfc3339(Utc::now() + TimeDelta::days(366));
    let behind = rfc3339(Utc::now() - TimeDelta::minutes(5));
    let soon = rfc3339(Utc::now() + TimeDelta::minutes(5));
    let cases = [
        (
            json!({"type": "noop", "run_at": soon, "delay_ms": 1000, "max_attempts": 0}),
            vec!["/max_attempts", "/run_at", "/delay_ms"],
        ),
        (json!({"type": "noop", "run_at": ahead}), vec!["/run_at"]),
        (json!({"type": "noop", "run_at": behind}), vec!["/run_at"]),
        (
            json!({"type": "noop", "run_at": "next tuesday"}),
            vec!["/run_at"],
        ),
        (json!({"type": "noop", "delay_ms": -1}), vec!["/delay_ms"]),
        (
            json!({"type": "noop", "delay_ms": 31_536_000_001_i64}),
            vec!["/delay_ms"],
        ),
    ];
    for (body, expected) in cases {
        let problem = assert_problem(
            app.submit(&tenant, &body, None).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-submission",
        )
        .await;
        assert_eq!(pointers(&problem), expected, "{body}");
        if body["run_at"] == json!(behind) {
            let message = problem["errors"][0]["message"].as_str().unwrap_or_default();
            assert!(message.contains("clock skew"), "{message}");
        }
    }
    let batch = app
        .http
        .post(app.url("/v1/tasks:batch"))
        .bearer_auth(&tenant.key)
        .json(&json!({"tasks": [
            {"type": "noop", "delay_ms": 1000},
            {"type": "noop", "delay_ms": 1000, "run_at": soon},
        ]}))
        .send()
        .await
        .expect("request");
    let problem = assert_problem(
        batch,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-submission",
    )
    .await;
    assert_eq!(problem["index"], 1, "{problem}");
    assert_eq!(pointers(&problem), ["/tasks/1/run_at", "/tasks/1/delay_ms"]);
    for table in ["tasks", "task_events"] {
        assert_eq!(app.count(table).await, 0, "{table} has rows");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn scheduled_tasks_are_listed_by_status_count_as_active_and_survive_a_rebuild() {
    let app = TestApp::spawn().await;
    let tenant = app
        .create_tenant(json!({"name": "delays", "quotas": {"max_active_tasks": 3}}))
        .await;
    let batch = app
        .http
        .post(app.url("/v1/tasks:batch"))
        .bearer_auth(&tenant.key)
        .json(&json!({"tasks": [
            {"type": "noop", "delay_ms": 60_000},
            {"type": "noop"},
            {"type": "noop", "delay_ms": 120_000},
        ]}))
        .send()
        .await
        .expect("request");
    assert_eq!(batch.status(), StatusCode::CREATED);
    let tasks = json_of(batch).await["tasks"].clone();
    let ids = |list: &Value| -> Vec<String> {
        let mut ids: Vec<String> = list["tasks"]
            .as_array()
            .expect("tasks")
            .iter()
            .map(|t| t["id"].as_str().expect("id").to_owned())
            .collect();
        ids.sort();
        ids
    };
    let mut scheduled = vec![
        tasks[0]["id"].as_str().expect("id").to_owned(),
        tasks[2]["id"].as_str().expect("id").to_owned(),
    ];
    scheduled.sort();
    let listed = json_of(app.get(&tenant, "/v1/tasks?status=scheduled").await).await;
    assert_eq!(ids(&listed), scheduled);
    let pending = json_of(app.get(&tenant, "/v1/tasks?status=pending").await).await;
    assert_eq!(ids(&pending), [tasks[1]["id"].as_str().expect("id")]);

    // Waiting is being active: the quota is full.
    let refused = app.submit(&tenant, &noop(), None).await;
    let problem = assert_problem(refused, StatusCode::TOO_MANY_REQUESTS, "quota-exceeded").await;
    assert_eq!(problem["reason"], "max_active_tasks");

    let live = json_of(app.get(&tenant, "/v1/tasks").await).await;
    app.execute("UPDATE tasks SET status = 'pending', run_at = NULL")
        .await;
    let rebuilt = rebuild_and_wait(&app).await;
    assert_eq!(rebuilt["state"], "succeeded", "{rebuilt}");
    assert_eq!(json_of(app.get(&tenant, "/v1/tasks").await).await, live);
}
