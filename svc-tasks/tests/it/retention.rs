//! The maintenance room: an Idempotency-Key is remembered for its retention, then forgotten (a
//! retry after that makes a new task); the tasks themselves stay. The service's own cleaners
//! (`startup::cleaners`), the time of the round named.

use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::json;
use svc_tasks::startup::cleaners;
use taskflow_platform::maintenance::Maintenance;

use crate::helpers::{TestApp, json_of};

#[tokio::test(flavor = "multi_thread")]
async fn an_idempotency_key_is_forgotten_after_its_retention_and_the_task_stays() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let body = json!({"type": "noop", "payload": {}});
    let first = json_of(app.submit(&tenant, &body, Some("nightly-1")).await).await;

    let maintenance = Maintenance {
        pool: app.services.db.clone(),
        every: Duration::from_secs(3600),
        cleaners: cleaners(&app.config),
    };
    let forgotten = |counts: Vec<(&'static str, usize)>| {
        counts
            .into_iter()
            .find(|(table, _)| *table == "idempotency_keys")
            .map(|(_, n)| n)
    };
    assert_eq!(
        forgotten(maintenance.run_once().await.expect("round")),
        Some(0)
    );
    let replay = app.submit(&tenant, &body, Some("nightly-1")).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(json_of(replay).await["id"], first["id"]);

    // Eight days on (the default keeps 7): the key goes, the task stays.
    let later = Utc::now() + chrono::Duration::days(8);
    assert_eq!(
        forgotten(maintenance.run_at(later).await.expect("round")),
        Some(1)
    );
    let again = app.submit(&tenant, &body, Some("nightly-1")).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert!(again.headers().get("idempotent-replayed").is_none());
    assert_ne!(json_of(again).await["id"], first["id"], "a new task");
    assert_eq!(app.count("tasks").await, 2, "the first task stays");
}
