//! Overlap policies that need svc-tasks' side: `cancel_other` names the run each trigger
//! replaces, and a trigger svc-tasks refuses ends its run, so a schedule waiting on it goes on.

use std::time::Duration;

use serde_json::{Value, json};
use taskflow_schemas::samples::sample_meta;
use taskflow_schemas::{Event, EventMeta, ScheduledTaskRefused, ScheduledTaskTriggered};

use crate::helpers::*;

fn every_second(name: &str, overlap: &str) -> Value {
    json!({
        "name": name,
        "task": {"type": "noop", "payload": {}},
        "spec": {"every": "PT1S"},
        "overlap": overlap,
    })
}

/// This schedule's triggers on the topic, in instant order, once there are `at_least`.
async fn triggers_of(
    app: &TestScheduler,
    schedule: &str,
    at_least: usize,
) -> Vec<ScheduledTaskTriggered> {
    wait_until(
        Duration::from_secs(30),
        &format!("{at_least} triggers"),
        || async {
            let mut mine: Vec<ScheduledTaskTriggered> = app
                .triggers(1)
                .await
                .into_iter()
                .filter_map(|e| match e {
                    Event::ScheduledTaskTriggered(t) if t.schedule_id.to_string() == schedule => {
                        Some(t)
                    }
                    _ => None,
                })
                .collect();
            mine.sort_by_key(|t| t.fire_time);
            (mine.len() >= at_least).then_some(mine)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_other_names_the_run_each_trigger_replaces() {
    let app = TestScheduler::spawn().await;
    let tenant = app.tenant().await;
    // Nobody runs the tasks here: every run is still active when the next instant comes.
    let schedule = app
        .create(&tenant, &every_second("replace", "cancel_other"))
        .await;
    let id = schedule["id"].as_str().expect("id").to_owned();
    let triggers = triggers_of(&app, &id, 4).await;

    assert_eq!(
        triggers[0].cancel_task_id, None,
        "the first run replaces nothing"
    );
    for pair in triggers.windows(2) {
        assert_eq!(
            pair[1].fire_time - pair[0].fire_time,
            1_000,
            "every instant fires"
        );
        assert_eq!(
            pair[1].cancel_task_id,
            Some(pair[0].task_id.to_string()),
            "each trigger names the run before it"
        );
    }
    let rows = app.occurrences(&tenant, &id).await;
    let replacing = rows
        .iter()
        .filter(|o| {
            o["reason"]
                .as_str()
                .is_some_and(|r| r.contains("cancel_other"))
        })
        .count();
    assert!(
        replacing >= 3,
        "occurrences say what they replaced: {rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trigger_svc_tasks_refused_ends_its_run_and_the_schedule_goes_on() {
    let app = TestScheduler::spawn().await;
    let tenant = app.tenant().await;
    let schedule = app.create(&tenant, &every_second("refused", "skip")).await;
    let id = schedule["id"].as_str().expect("id").to_owned();
    // The first run never ends (no executor): the instants after it are skipped.
    wait_until(
        Duration::from_secs(30),
        "instants skipped behind the first run",
        || async {
            let rows = app.occurrences(&tenant, &id).await;
            (rows.iter().filter(|o| o["outcome"] == "skipped").count() >= 2).then_some(())
        },
    )
    .await;
    let first = triggers_of(&app, &id, 1).await.remove(0);

    // svc-tasks answers that it could not create the first run's task.
    let refusal = ScheduledTaskRefused {
        meta: EventMeta {
            tenant_id: tenant.id,
            causation_id: Some(first.meta.event_id.to_string()),
            ..sample_meta()
        },
        schedule_id: first.schedule_id,
        fire_time: first.fire_time,
        task_id: first.task_id,
        reason: "invalid task: /payload: gone".into(),
    };
    app.producer
        .publish(&refusal.clone().into())
        .await
        .expect("published");
    // Delivered twice: recorded once.
    app.producer
        .publish(&refusal.into())
        .await
        .expect("published");

    let rows = wait_until(
        Duration::from_secs(30),
        "a new run after the refusal",
        || async {
            let rows = app.occurrences(&tenant, &id).await;
            let count = |outcome: &str| rows.iter().filter(|o| o["outcome"] == outcome).count();
            (count("refused") >= 1 && count("triggered") >= 1).then_some(rows)
        },
    )
    .await;
    let refused: Vec<&Value> = rows.iter().filter(|o| o["outcome"] == "refused").collect();
    assert_eq!(refused.len(), 1, "{rows:?}");
    assert_eq!(refused[0]["task_id"], first.task_id.to_string());
    let reason = refused[0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("refused by svc-tasks") && reason.contains("/payload"),
        "{reason}"
    );
    // Counted once, though delivered twice.
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    assert!(
        metrics
            .lines()
            .any(|l| l == "taskflow_schedule_occurrences_total{outcome=\"refused\"} 1"),
        "{metrics}"
    );
}
