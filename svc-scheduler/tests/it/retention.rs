//! The maintenance room: an occurrence goes once its run is over and it is older than the
//! retention; one whose task still runs stays, however old (the overlap policy asks for it).
//! The service's own cleaners (`startup::cleaners`), the time of the round named.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use svc_scheduler::startup::cleaners;
use taskflow_platform::db;
use taskflow_platform::maintenance::Maintenance;
use uuid::Uuid;

use crate::helpers::{TestScheduler, wait_until};

#[tokio::test(flavor = "multi_thread")]
async fn a_finished_runs_occurrence_goes_after_the_retention_a_running_one_stays() {
    let app = TestScheduler::spawn().await;
    let tenant = app.tenant().await;
    let at = (Utc::now() + chrono::Duration::milliseconds(200)).to_rfc3339();
    let once = app
        .create(
            &tenant,
            &json!({"name": "once", "task": {"type": "noop"}, "spec": {"at": at}}),
        )
        .await;
    let id = once["id"].as_str().expect("id").to_owned();
    let fired = wait_until(Duration::from_secs(30), "the one-off to fire", || async {
        app.occurrences(&tenant, &id).await.into_iter().next()
    })
    .await;
    assert_eq!(fired["outcome"], "triggered");
    let task_id: Uuid = fired["task_id"]
        .as_str()
        .expect("task")
        .parse()
        .expect("uuid");

    let pool = db::pool(&app.config.database_url, 2).expect("pool");
    let maintenance = Maintenance {
        pool: pool.clone(),
        every: Duration::from_secs(3600),
        cleaners: cleaners(&app.config),
    };
    let later = Utc::now() + chrono::Duration::days(31);
    let occurrences = |counts: Vec<(&'static str, usize)>| {
        counts
            .into_iter()
            .find(|(table, _)| *table == "occurrences")
            .map(|(_, n)| n)
    };
    assert_eq!(
        occurrences(maintenance.run_at(later).await.expect("round")),
        Some(0),
        "its task still runs"
    );
    assert_eq!(app.occurrences(&tenant, &id).await.len(), 1);

    let mut conn = pool.get().await.expect("conn");
    svc_scheduler::store::mark_task_ended(&mut conn, &[task_id])
        .await
        .expect("ended");
    assert_eq!(
        occurrences(maintenance.run_once().await.expect("round")),
        Some(0),
        "within the retention"
    );
    assert_eq!(
        occurrences(maintenance.run_at(later).await.expect("round")),
        Some(1)
    );
    assert!(app.occurrences(&tenant, &id).await.is_empty());
}

/// The log keeps what a rebuild of the schedules needs: a live schedule's lifecycle events stay
/// however old; what became of the instants (and the state records) goes with the retention, and
/// so does a deleted schedule's lifecycle.
#[tokio::test(flavor = "multi_thread")]
async fn the_log_keeps_the_schedules_lifecycle_and_lets_old_triggers_go() {
    let app = TestScheduler::spawn().await;
    let tenant = app.tenant().await;
    let end = (Utc::now() + chrono::Duration::seconds(3)).to_rfc3339();
    let live = app
        .create(
            &tenant,
            &json!({"name": "live", "task": {"type": "noop"}, "spec": {"every": "PT1S"},
                    "overlap": "allow_all", "end_at": end}),
        )
        .await;
    let id = live["id"].as_str().expect("id").to_owned();
    let gone = app
        .create(
            &tenant,
            &json!({"name": "gone", "task": {"type": "noop"}, "spec": {"every": "PT1H"}}),
        )
        .await;
    let (status, _) = app
        .call(
            &tenant,
            reqwest::Method::DELETE,
            &format!("/v1/schedules/{}", gone["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert!(status.is_success());
    let (status, _) = app
        .call(
            &tenant,
            reqwest::Method::PATCH,
            &format!("/v1/schedules/{id}"),
            Some(&json!({"note": "kept"})),
        )
        .await;
    assert!(status.is_success());
    wait_until(Duration::from_secs(30), "a few runs", || async {
        (app.occurrences(&tenant, &id).await.len() >= 2).then_some(())
    })
    .await;

    // Everything published: only published rows may go.
    let pool = db::pool(&app.config.database_url, 2).expect("pool");
    wait_until(Duration::from_secs(30), "the log published", || async {
        let mut conn = pool.get().await.ok()?;
        let newest = taskflow_platform::outbox::settled_up_to(&mut conn)
            .await
            .ok()?;
        let published = taskflow_platform::outbox::published_up_to(&mut conn)
            .await
            .ok()?;
        (published >= newest).then_some(())
    })
    .await;
    let before = app.outbox_types().await;
    assert!(before.iter().any(|t| t == "ScheduledTaskTriggered"));
    assert!(before.iter().any(|t| t == "ScheduleDeleted"));

    let mut config = app.config.clone();
    config.retention = Duration::from_secs(3600);
    config.maintenance.outbox = Duration::from_secs(3600);
    let maintenance = Maintenance {
        pool: pool.clone(),
        every: Duration::from_secs(3600),
        cleaners: cleaners(&config),
    };
    let counts = maintenance
        .run_at(Utc::now() + chrono::Duration::hours(2))
        .await
        .expect("round");
    let pruned = counts
        .iter()
        .find(|(table, _)| *table == "outbox")
        .map(|(_, n)| *n);
    assert!(pruned.is_some_and(|n| n > 0), "{counts:?}");
    assert_eq!(
        app.outbox_types().await,
        ["ScheduleCreated", "ScheduleChanged"],
        "the live schedule's lifecycle stays; triggers, state records and the deleted one go"
    );
}
