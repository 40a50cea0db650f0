//! Overlap policies across svc-scheduler, svc-tasks and the executor: `cancel_other` really
//! cancels the run it replaces, and a trigger svc-tasks refuses does not stall its schedule.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{System, wait_until};
use crate::schedules::{scheduler_database, start_scheduler, wait_for_key};

#[tokio::test(flavor = "multi_thread")]
async fn cancel_other_cancels_the_running_task_and_refused_triggers_do_not_stall_a_schedule() {
    let system = System::start().await;
    system.executor("executor-1", 8).await;
    let database_url = scheduler_database(&system).await;
    let scheduler = start_scheduler(&system, &database_url).await;
    let http = reqwest::Client::new();
    // A tenant that may not use priority critical: svc-tasks refuses such triggers.
    let created: Value = http
        .post(format!("{}/v1/admin/tenants", system.api))
        .bearer_auth(&system.admin_token)
        .json(&json!({"name": format!("t-{}", system.id), "allowed_priorities": ["low", "normal", "high"]}))
        .send()
        .await
        .expect("tenant")
        .json()
        .await
        .expect("json");
    let key = created["api_key"].as_str().expect("key").to_owned();
    wait_for_key(&http, &scheduler, &key).await;
    let create = |body: Value| {
        let (http, scheduler, key) = (http.clone(), scheduler.clone(), key.clone());
        async move {
            let response = http
                .post(format!("{scheduler}/v1/schedules"))
                .bearer_auth(&key)
                .json(&body)
                .send()
                .await
                .expect("create");
            assert_eq!(response.status(), StatusCode::CREATED);
            let created: Value = response.json().await.expect("json");
            created["id"].as_str().expect("id").to_owned()
        }
    };
    let replacing = create(json!({
        "name": "replace-the-slow-one",
        "task": {"type": "sleep", "payload": {"duration_ms": 60_000}},
        "spec": {"every": "PT2S"},
        "overlap": "cancel_other",
    }))
    .await;
    let refused = create(json!({
        "name": "too-important",
        "task": {"type": "noop", "payload": {}, "priority": "critical"},
        "spec": {"every": "PT1S"},
        "overlap": "skip",
    }))
    .await;

    // Each new run of the slow schedule cancels the one before it: cancelled tasks pile up
    // while at most one runs.
    let tasks = wait_until(Duration::from_secs(60), "2 cancelled runs", || async {
        let page: Value = http
            .get(format!("{}/v1/tasks?limit=100", system.api))
            .bearer_auth(&key)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let mine: Vec<Value> = page["tasks"]
            .as_array()?
            .iter()
            .filter(|t| t["schedule_id"] == replacing.as_str())
            .cloned()
            .collect();
        let cancelled = mine.iter().filter(|t| t["status"] == "cancelled").count();
        (cancelled >= 2).then_some(mine)
    })
    .await;
    let active: Vec<&Value> = tasks
        .iter()
        .filter(|t| {
            !matches!(
                t["status"].as_str(),
                Some("cancelled" | "completed" | "failed")
            )
        })
        .collect();
    assert!(
        active.len() <= 2,
        "one runs, at most one more starting: {tasks:?}"
    );

    // The refused schedule keeps deciding: with overlap skip, a run svc-tasks refused would
    // otherwise count as running forever and every later instant be skipped.
    let rows = wait_until(Duration::from_secs(60), "3 refused instants", || async {
        let page: Value = http
            .get(format!(
                "{scheduler}/v1/schedules/{refused}/occurrences?limit=500"
            ))
            .bearer_auth(&key)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let rows = page["items"].as_array()?.clone();
        (rows.iter().filter(|o| o["outcome"] == "refused").count() >= 3).then_some(rows)
    })
    .await;
    for row in rows.iter().filter(|o| o["outcome"] == "refused") {
        let reason = row["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("not allowed"), "{reason}");
    }
}
