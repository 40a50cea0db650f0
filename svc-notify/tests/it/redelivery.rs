//! A redelivered event (a relay's re-send, a consumer's retry after a crash) is told once: the
//! history of told events and the held events are svc-notify's inbox for task events.

use std::time::Duration;

use serde_json::Value;
use taskflow_schemas::{Event, TaskCompleted, TaskStarted};
use uuid::Uuid;

use crate::helpers::{TestNotify, created, meta, progress_event, wait_until};

async fn event_types(app: &TestNotify, key: &str, task_id: Uuid) -> Vec<String> {
    let page: Value = app
        .http
        .get(app.url(&format!("/v1/notifications?task_id={task_id}&limit=500")))
        .bearer_auth(key)
        .send()
        .await
        .expect("history")
        .json()
        .await
        .expect("json");
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|n| n["event_type"].as_str().expect("event_type").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_delivered_again_while_held_or_after_it_was_told_is_told_once() {
    let app = TestNotify::spawn().await;
    let tenant = app.tenant().await;
    let task_id = Uuid::now_v7();
    let started: Event = TaskStarted {
        meta: meta(tenant.id),
        task_id,
        attempt: 1,
        instance: "it".into(),
    }
    .into();

    // Read before its task's creation: held; its copy arrives while it is held.
    app.publish(std::slice::from_ref(&started)).await;
    wait_until(Duration::from_secs(30), "the start to be held", || async {
        (app.held_events(task_id).await == 1).then_some(())
    })
    .await;
    app.publish(&[started.clone(), created(tenant.id, task_id)])
        .await;
    app.known(&tenant, task_id, 2).await;

    // Told already: copies of both arrive, then the task goes on and ends.
    let progress = progress_event(tenant.id, task_id, 0, "half");
    let completed: Event = TaskCompleted {
        meta: meta(tenant.id),
        task_id,
        attempt: 1,
        result_json: Some(r#"{"ok":true}"#.into()),
        duration_ms: 3,
    }
    .into();
    app.publish(&[started.clone(), progress.clone()]).await;
    app.publish(&[progress, started, completed]).await;
    // The ending comes last on the task's partition: once it is told, every copy before it was
    // consumed.
    let types = wait_until(Duration::from_secs(30), "the ending to be told", || async {
        let types = event_types(&app, &tenant.key, task_id).await;
        types.iter().any(|t| t == "TaskCompleted").then_some(types)
    })
    .await;
    assert_eq!(
        types.len(),
        4,
        "each event told once, whatever the copies: {types:?}"
    );
    assert_eq!(app.held_events(task_id).await, 0, "nothing left held");
}
