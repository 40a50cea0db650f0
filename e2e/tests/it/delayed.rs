//! Delayed tasks end to end: submitted with `delay_ms`, `scheduled` in svc-tasks until due, then
//! started by the executor at their instant; cancelled before it, they never start.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use crate::helpers::{System, types};

const WAIT: Duration = Duration::from_secs(60);

fn time_of(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|s| s.parse::<DateTime<Utc>>().ok())
        .unwrap_or_else(|| panic!("a timestamp, not {value}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delayed_task_starts_at_its_instant_and_one_cancelled_before_never_starts() {
    let system = System::start().await;
    system.executor("executor-1", 4).await;
    let tenant = system.tenant().await;

    let delayed = system
        .submit(&tenant, json!({"type": "noop", "delay_ms": 1500}))
        .await;
    let waiting = system.task(&tenant, &delayed).await;
    assert_eq!(waiting["status"], "scheduled", "{waiting}");
    let run_at = time_of(&waiting["run_at"]);

    let later = system
        .submit(&tenant, json!({"type": "noop", "delay_ms": 60_000}))
        .await;
    assert_eq!(system.task(&tenant, &later).await["status"], "scheduled");
    assert_eq!(
        system.cancel(&tenant, &later).await,
        reqwest::StatusCode::ACCEPTED
    );

    let done = system
        .wait_status(&tenant, &delayed, "completed", WAIT)
        .await;
    let started_at = time_of(&done["started_at"]);
    assert!(
        started_at >= run_at,
        "started at {started_at}, before its run_at {run_at}"
    );
    assert!(
        started_at <= run_at + TimeDelta::seconds(1),
        "started at {started_at}, more than 1 s after its run_at {run_at}"
    );
    let history = system.history(&tenant, &delayed).await;
    let started = history
        .iter()
        .find(|e| e["type"] == "TaskStarted")
        .expect("a TaskStarted");
    assert!(time_of(&started["occurred_at"]) >= run_at, "{started}");

    let cancelled = system
        .wait_status(&tenant, &later, "cancelled", Duration::from_secs(15))
        .await;
    assert_eq!(cancelled["started_at"], Value::Null, "{cancelled}");
    assert_eq!(cancelled["attempts"], 0, "{cancelled}");
    let history = system.history(&tenant, &later).await;
    assert_eq!(
        types(&history),
        ["TaskCreated", "TaskCancelRequested", "TaskCancelled"]
    );
    let later_id: uuid::Uuid = later.parse().expect("uuid");
    assert!(
        system
            .attempts()
            .await
            .iter()
            .all(|a| a.task_id != later_id),
        "the cancelled task was attempted"
    );
}
