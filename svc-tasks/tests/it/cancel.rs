use reqwest::StatusCode;
use serde_json::json;
use taskflow_schemas::samples::sample_meta;
use taskflow_schemas::{EventMeta, Stream, TaskCompleted};
use uuid::Uuid;

use crate::helpers::{TestApp, assert_problem, json_of, noop, read_topic, wait_until};

#[tokio::test(flavor = "multi_thread")]
async fn a_cancellation_is_recorded_once_published_and_refused_after_the_end() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let task = json_of(app.submit(&tenant, &noop(), None).await).await;
    let id = task["id"].as_str().expect("id");
    let cancel = |body: serde_json::Value| {
        app.http
            .post(app.url(&format!("/v1/tasks/{id}/cancel")))
            .bearer_auth(&tenant.key)
            .json(&body)
            .send()
    };

    let first = cancel(json!({"reason": "changed my mind"}))
        .await
        .expect("cancel");
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    assert_eq!(json_of(first).await["cancel_requested"], true);
    let second = cancel(json!({})).await.expect("cancel");
    assert_eq!(second.status(), StatusCode::ACCEPTED);
    let history = json_of(app.get(&tenant, &format!("/v1/tasks/{id}/events")).await).await;
    let types: Vec<_> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["type"].clone())
        .collect();
    assert_eq!(types, [json!("TaskCreated"), json!("TaskCancelRequested")]);
    assert_eq!(history["events"][1]["data"]["reason"], "changed my mind");

    let records = read_topic(
        &app.kafka.bootstrap_servers,
        &app.topic(Stream::TaskRequests),
        2,
    )
    .await;
    let summary: Vec<_> = records
        .iter()
        .map(|r| (r.header("event_type"), r.header("event_id"), r.key.clone()))
        .collect();
    assert_eq!(
        records[1].header("event_type"),
        Some("TaskCancelRequested"),
        "{summary:?}"
    );

    let bad = cancel(json!({"reason": 5})).await.expect("cancel");
    assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "invalid-body").await;

    let task_id: Uuid = id.parse().expect("uuid");
    let meta = EventMeta {
        tenant_id: tenant.id,
        ..sample_meta()
    };
    app.producer()
        .publish(
            &TaskCompleted {
                meta,
                task_id,
                attempt: 1,
                result_json: None,
                duration_ms: 1,
            }
            .into(),
        )
        .await
        .expect("published");
    wait_until(std::time::Duration::from_secs(30), "completion", || async {
        (json_of(app.get(&tenant, &format!("/v1/tasks/{id}")).await).await["status"] == "completed")
            .then_some(())
    })
    .await;
    assert_problem(
        cancel(json!({})).await.expect("cancel"),
        StatusCode::CONFLICT,
        "task-already-finished",
    )
    .await;
}
