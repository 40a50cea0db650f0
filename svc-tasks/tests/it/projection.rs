use std::time::Duration;

use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::{Value, json};
use taskflow_schemas::samples::sample_meta;
use taskflow_schemas::{
    Event, EventMeta, TaskCancelled, TaskCompleted, TaskProgressUpdated, TaskStarted,
};
use uuid::Uuid;

use crate::helpers::{TestApp, TestTenant, json_of, noop, wait_until};

fn meta(tenant: &TestTenant) -> EventMeta {
    EventMeta {
        tenant_id: tenant.id,
        ..sample_meta()
    }
}

async fn wait_for_status(app: &TestApp, tenant: &TestTenant, id: &str, status: &str) -> Value {
    wait_until(
        Duration::from_secs(30),
        &format!("task {id} {status}"),
        || async {
            let task = json_of(app.get(tenant, &format!("/v1/tasks/{id}")).await).await;
            (task["status"] == status).then_some(task)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn execution_events_drive_the_live_view_once_each() {
    let app = TestApp::spawn().await;
    let tenant = app
        .create_tenant(json!({"name": "one-slot", "quotas": {"max_active_tasks": 1}}))
        .await;
    let task = json_of(app.submit(&tenant, &noop(), None).await).await;
    let id = task["id"].as_str().expect("id");
    assert_eq!(
        app.submit(&tenant, &noop(), None).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    let task_id: Uuid = id.parse().expect("uuid");
    let started: Event = TaskStarted {
        meta: meta(&tenant),
        task_id,
        attempt: 1,
        instance: "ex-1".into(),
    }
    .into();
    let events = [
        started.clone(),
        started,
        TaskProgressUpdated {
            meta: meta(&tenant),
            task_id,
            attempt: 1,
            percent: 50,
            message: Some("half".into()),
        }
        .into(),
        TaskCompleted {
            meta: meta(&tenant),
            task_id,
            attempt: 1,
            result_json: Some(r#"{"ok":true}"#.into()),
            duration_ms: 7,
        }
        .into(),
    ];
    let producer = app.producer();
    for event in &events {
        producer.publish(event).await.expect("published");
    }
    let done = wait_for_status(&app, &tenant, id, "completed").await;
    assert_eq!(done["attempts"], 1);
    assert_eq!(done["result"], json!({"ok": true}));
    assert_eq!(done["progress"]["percent"], 100);
    assert!(done["finished_at"].is_string());

    let history = json_of(app.get(&tenant, &format!("/v1/tasks/{id}/events")).await).await;
    let types: Vec<_> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["type"].clone())
        .collect();
    assert_eq!(
        types,
        [
            json!("TaskCreated"),
            json!("TaskStarted"),
            json!("TaskProgressUpdated"),
            json!("TaskCompleted")
        ]
    );

    // The ended task gave its slot back.
    assert_eq!(
        app.submit(&tenant, &noop(), None).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rebuilt_projection_equals_the_live_one() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let mut ids = Vec::new();
    for body in [
        noop(),
        json!({"type": "sleep", "payload": {"duration_ms": 3}, "labels": {"a": "b"}}),
        noop(),
    ] {
        ids.push(
            json_of(app.submit(&tenant, &body, None).await).await["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let producer = app.producer();
    let first: Uuid = ids[0].parse().expect("uuid");
    producer
        .publish(
            &TaskStarted {
                meta: meta(&tenant),
                task_id: first,
                attempt: 1,
                instance: "x".into(),
            }
            .into(),
        )
        .await
        .expect("published");
    producer
        .publish(
            &TaskCompleted {
                meta: meta(&tenant),
                task_id: first,
                attempt: 1,
                result_json: None,
                duration_ms: 1,
            }
            .into(),
        )
        .await
        .expect("published");
    let cancel = app
        .http
        .post(app.url(&format!("/v1/tasks/{}/cancel", ids[1])))
        .bearer_auth(&tenant.key)
        .send()
        .await
        .expect("cancel");
    assert_eq!(cancel.status(), StatusCode::ACCEPTED);
    let second: Uuid = ids[1].parse().expect("uuid");
    producer
        .publish(
            &TaskCancelled {
                meta: meta(&tenant),
                task_id: second,
                attempt: None,
                reason: None,
            }
            .into(),
        )
        .await
        .expect("published");
    wait_for_status(&app, &tenant, &ids[0], "completed").await;
    wait_for_status(&app, &tenant, &ids[1], "cancelled").await;

    let live = json_of(app.get(&tenant, "/v1/tasks").await).await;
    let mut conn = app.services.db.get().await.expect("connection");
    diesel::sql_query(
        "UPDATE tasks SET status = 'pending', attempts = 99, result = NULL, labels = '{}'",
    )
    .execute(&mut conn)
    .await
    .expect("projection damaged");
    diesel::sql_query("UPDATE tenant_usage SET active_tasks = 0")
        .execute(&mut conn)
        .await
        .expect("counters damaged");
    let rebuilt = json_of(
        app.http
            .post(app.url("/v1/admin/projections/rebuild"))
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .expect("rebuild"),
    )
    .await;
    assert_eq!(rebuilt["rebuilt_tasks"], 3);
    assert_eq!(json_of(app.get(&tenant, "/v1/tasks").await).await, live);
    let active: i32 = diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>(
        "(SELECT active_tasks FROM tenant_usage LIMIT 1)",
    ))
    .get_result(&mut conn)
    .await
    .expect("active");
    assert_eq!(active, 1, "one task is still pending");
}
