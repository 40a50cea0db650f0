use std::time::Duration;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_client_resumes_across_a_restart_of_svc_notify_without_gap_or_duplicate() {
    let app = TestNotify::spawn().await;
    let tenant = app.tenant().await;
    let mut stream = open_stream(&app, "/v1/stream?after=0", Some(&tenant.key)).await;
    app.task_life(&tenant, 3, true).await;
    let before = stream.tasks(6).await;
    let last = before.last().and_then(|e| e.id).expect("an id");

    let app = app.restart().await;
    assert!(
        stream.next().await.is_none(),
        "the old stream ended with its server"
    );
    // Events that happen while clients are away are kept for them.
    app.task_life(&tenant, 3, true).await;
    app.task_life(&tenant, 0, false).await;
    let mut resumed = SseClient::new(
        app.http
            .get(app.url("/v1/stream"))
            .bearer_auth(&tenant.key)
            .header("Last-Event-ID", last.to_string())
            .send()
            .await
            .expect("request"),
    );
    let after = resumed.tasks(8).await;
    let ids: Vec<i64> = after.iter().map(|e| e.id.expect("id")).collect();
    assert_eq!(ids, (last + 1..=last + 8).collect::<Vec<_>>());
    // And live again after the replay.
    app.task_life(&tenant, 0, true).await;
    let live = resumed.tasks(3).await;
    assert_eq!(live[0].id, Some(last + 9));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cursor_older_than_retention_gets_a_resync_with_the_active_tasks() {
    let app = TestNotify::spawn().await;
    let tenant = app.tenant().await;
    let done = app.task_life(&tenant, 1, true).await;
    let active = app.task_life(&tenant, 2, false).await;
    app.seq_reaches(&tenant, 8).await;
    // A round as if the retention (an hour here) had passed for everything recorded so far.
    let maintenance = taskflow_platform::maintenance::Maintenance {
        pool: app.pool.clone(),
        every: Duration::from_secs(3600),
        cleaners: svc_notify::startup::cleaners(&app.config),
    };
    let later = chrono::Utc::now() + chrono::Duration::hours(2);
    let rounds = maintenance.run_at(later).await.expect("pruned");
    assert_eq!(rounds[0], ("notifications", 8));

    let mut stream = open_stream(&app, "/v1/stream?after=3", Some(&tenant.key)).await;
    let resync = stream.next().await.expect("an event");
    assert_eq!(resync.event, "resync");
    assert_eq!(resync.id, Some(8));
    let tasks = resync.data["tasks"].as_array().expect("tasks");
    let ids: Vec<&str> = tasks.iter().filter_map(|t| t["task_id"].as_str()).collect();
    let active = active.to_string();
    assert_eq!(ids, [active.as_str()], "the active task only, not {done}");
    assert_eq!(tasks[0]["status"], "running");
    assert_eq!(resync.data["counts"]["running"], 1);
    // Then live from there.
    app.task_life(&tenant, 0, false).await;
    let next = stream.tasks(1).await;
    assert_eq!(next[0].id, Some(9));

    // History says how far it was pruned; a cursor at or after that resumes normally.
    let page: serde_json::Value = app
        .http
        .get(app.url("/v1/notifications?after=0"))
        .bearer_auth(&tenant.key)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(page["pruned_through"], 8);
    let mut current = open_stream(&app, "/v1/stream?after=8", Some(&tenant.key)).await;
    assert_eq!(current.next().await.expect("an event").event, "task");
}
