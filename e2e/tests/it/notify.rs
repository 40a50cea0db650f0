//! svc-notify beside the real svc-tasks and executor: it learns the tenant's key from svc-tasks'
//! key events (no call between services), tells a task's life as it happens, and stops honouring
//! a key within seconds of its revocation in svc-tasks.

use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use svc_notify::config::NotifyConfig;
use svc_notify::startup::Application as Notify;
use taskflow_platform::testing::new_database;
use uuid::Uuid;

use crate::helpers::{System, wait_until};

async fn start_notify(system: &System) -> String {
    let database_url = new_database(&format!("it_notify_{}", system.id)).await;
    let notify = Notify::build(NotifyConfig {
        bind: "127.0.0.1:0".into(),
        workers: 1,
        database_url,
        db_pool_size: 6,
        consumer_group: format!("it-{}-svc-notify", system.id),
        retention: Duration::from_secs(3600),
        keepalive: Duration::from_secs(15),
        client_buffer: 256,
        max_connections: 100,
        tasks_api_url: system.api.clone(),
        kafka: system.kafka.clone(),
        registry: system.registry.clone(),
        maintenance: Default::default(),
        admin_token: Default::default(),
    })
    .await
    .expect("svc-notify");
    let url = format!("http://127.0.0.1:{}", notify.port());
    tokio::spawn(notify.run_until_stopped());
    url
}

/// `(event, data)` of each SSE event in `body` as it arrives, until `stop` says enough.
async fn read_events(
    response: reqwest::Response,
    mut stop: impl FnMut(&str, &Value) -> bool,
) -> Vec<(String, Value)> {
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.bytes_stream();
    let (mut buffer, mut events) = (String::new(), Vec::new());
    loop {
        let chunk = tokio::time::timeout(Duration::from_secs(60), body.next())
            .await
            .expect("an event within 60 s")
            .expect("stream open")
            .expect("chunk");
        buffer.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(name).map(str::to_owned))
            };
            if let (Some(event), Some(data)) = (field("event: "), field("data: ")) {
                let data: Value = serde_json::from_str(&data).expect("json");
                let done = stop(&event, &data);
                events.push((event, data));
                if done {
                    return events;
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn notify_tells_a_real_tasks_life_and_drops_a_key_revoked_in_svc_tasks() {
    let system = System::start().await;
    system.executor("executor-1", 4).await;
    let notify = start_notify(&system).await;
    let created: Value = system
        .http
        .post(format!("{}/v1/admin/tenants", system.api))
        .bearer_auth(&system.admin_token)
        .json(&json!({"name": format!("t-{}", Uuid::new_v4().simple())}))
        .send()
        .await
        .expect("tenant")
        .json()
        .await
        .expect("json");
    let key = created["api_key"].as_str().expect("key").to_owned();
    let (tenant_id, key_id) = (created["tenant_id"].clone(), created["key_id"].clone());
    let http = reqwest::Client::new();
    wait_until(
        Duration::from_secs(60),
        "svc-notify to know the key svc-tasks issued",
        || async {
            let status = http
                .get(format!("{notify}/v1/overview"))
                .bearer_auth(&key)
                .send()
                .await
                .ok()?
                .status();
            (status == StatusCode::OK).then_some(())
        },
    )
    .await;

    let stream = http
        .get(format!("{notify}/v1/stream"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("stream");
    let tenant = crate::helpers::Tenant { key: key.clone() };
    let task = system
        .submit(
            &tenant,
            json!({"type": "sleep", "payload": {"duration_ms": 300, "steps": 3}}),
        )
        .await;
    let events = read_events(stream, |_, data| data["status"] == "completed").await;
    let told: Vec<(&str, &str)> = events
        .iter()
        .map(|(_, d)| {
            assert_eq!(d["task_id"], task.as_str());
            (
                d["event_type"].as_str().expect("type"),
                d["status"].as_str().expect("status"),
            )
        })
        .collect();
    assert_eq!(told.first(), Some(&("TaskCreated", "pending")));
    assert_eq!(told.get(1), Some(&("TaskStarted", "running")));
    assert_eq!(told.last(), Some(&("TaskCompleted", "completed")));
    assert!(
        told.iter()
            .filter(|(t, _)| *t == "TaskProgressUpdated")
            .count()
            >= 2,
        "progress is told: {told:?}"
    );

    // Revoked in svc-tasks: an open stream ends and the key stops working in svc-notify.
    let stream = http
        .get(format!("{notify}/v1/stream"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("stream");
    let revoked = system
        .http
        .delete(format!(
            "{}/v1/admin/tenants/{}/keys/{}",
            system.api,
            tenant_id.as_str().expect("tenant id"),
            key_id.as_str().expect("key id")
        ))
        .bearer_auth(&system.admin_token)
        .send()
        .await
        .expect("revoke");
    assert!(revoked.status().is_success(), "{}", revoked.status());
    let ended = read_events(stream, |event, _| event == "end").await;
    assert_eq!(ended.last().expect("end").1["reason"], "key-revoked");
    let refused = http
        .get(format!("{notify}/v1/overview"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}
