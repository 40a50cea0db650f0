use std::collections::HashMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use taskflow_schemas::Event;

use crate::helpers::*;

fn every_second(name: &str) -> Value {
    json!({
        "name": name,
        "task": {"type": "noop", "payload": {}},
        "spec": {"every": "PT1S"},
        // Nobody runs the tasks here (no executor): every instant fires anyway.
        "overlap": "allow_all",
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_fire_each_instant_of_a_one_second_schedule_exactly_once() {
    let first = TestScheduler::spawn().await;
    let second = first.sibling().await;
    let tenant = first.tenant().await;
    let schedule = first.create(&tenant, &every_second("tick")).await;
    let id = schedule["id"].as_str().expect("id").to_owned();
    // Both instances are firing; wait for a few seconds' worth of instants.
    let triggered = wait_until(Duration::from_secs(30), "5 triggered instants", || async {
        let rows = second.occurrences(&tenant, &id).await;
        let n = rows.iter().filter(|o| o["outcome"] == "triggered").count();
        (n >= 5).then_some(rows)
    })
    .await;
    let instants: Vec<&str> = triggered
        .iter()
        .filter_map(|o| o["nominal_time"].as_str())
        .collect();
    let mut unique = instants.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), instants.len(), "one occurrence per instant");

    let events = first.triggers(5).await;
    let mut per_instant: HashMap<i64, usize> = HashMap::new();
    for event in &events {
        if let Event::ScheduledTaskTriggered(t) = event {
            assert_eq!(t.task_type, "noop");
            assert_eq!(t.meta.tenant_id, tenant.id);
            *per_instant.entry(t.fire_time).or_default() += 1;
        }
    }
    assert!(per_instant.len() >= 5);
    assert!(
        per_instant.values().all(|n| *n == 1),
        "two instances, one trigger per instant: {per_instant:?}"
    );
    let mut times: Vec<i64> = per_instant.keys().copied().collect();
    times.sort_unstable();
    assert!(
        times.windows(2).all(|w| w[1] - w[0] == 1_000),
        "every second, none skipped: {times:?}"
    );
    drop(second);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_schedule_fires_nothing_and_resuming_records_what_it_skipped() {
    let app = TestScheduler::spawn().await;
    let tenant = app.tenant().await;
    let mut body = every_second("paused");
    body["paused"] = json!(true);
    body["note"] = json!("maintenance");
    let schedule = app.create(&tenant, &body).await;
    let id = schedule["id"].as_str().expect("id").to_owned();
    assert_eq!(schedule["paused"], true);
    // A sibling schedule that runs proves time passes for the firer meanwhile.
    let running = app.create(&tenant, &every_second("running")).await;
    let running_id = running["id"].as_str().expect("id").to_owned();
    wait_until(
        Duration::from_secs(30),
        "the running schedule to fire 3 times",
        || async { (app.occurrences(&tenant, &running_id).await.len() >= 3).then_some(()) },
    )
    .await;
    assert!(
        app.occurrences(&tenant, &id).await.is_empty(),
        "paused: nothing"
    );

    let resumed: Value = app
        .http
        .post(app.url(&format!("/v1/schedules/{id}/resume")))
        .bearer_auth(&tenant.key)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(resumed["paused"], false);
    let rows = app.occurrences(&tenant, &id).await;
    assert!(!rows.is_empty(), "the paused instants are on record");
    assert!(rows.iter().all(|o| {
        o["outcome"] == "skipped"
            && o["reason"]
                .as_str()
                .unwrap_or_default()
                .starts_with("paused")
    }));
    wait_until(Duration::from_secs(30), "a fire after resuming", || async {
        app.occurrences(&tenant, &id)
            .await
            .iter()
            .any(|o| o["outcome"] == "triggered")
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_schedules_are_refused_with_every_problem_and_nothing_stored() {
    let app = TestScheduler::spawn().await;
    let tenant = app.tenant().await;
    let cases = [
        json!({"name": "x", "task": {"type": "noop"}, "spec": {"cron": "61 * * * *"}}),
        json!({"name": "x", "task": {"type": "noop"}, "spec": {"cron": "0 9 * * *", "timezone": "Mars/Olympus"}}),
        json!({"name": "x", "task": {"type": "noop"}, "spec": {"every": "PT0.1S"}}),
        json!({"name": "x", "task": {"type": "noop"}, "spec": {"at": "2001-01-01T00:00:00Z"}}),
        json!({"name": "x", "task": {"type": "noop"}, "spec": {"every": "PT1M"}, "start_at": "2030-01-02T00:00:00Z", "end_at": "2030-01-01T00:00:00Z"}),
        json!({"name": "x", "task": {"type": "sleep", "payload": {"duration_ms": -1}}, "spec": {"every": "PT1M"}}),
        json!({"name": "x", "task": {"type": "warp"}, "spec": {"every": "PT1M"}}),
        json!({"name": "x", "task": {"type": "noop"}, "spec": {"every": "PT1M"}, "overlap": "whenever"}),
    ];
    for body in cases {
        let response = app
            .http
            .post(app.url("/v1/schedules"))
            .bearer_auth(&tenant.key)
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem: Value = response.json().await.expect("json");
        assert_eq!(
            problem["type"], "urn:taskflow:problem:invalid-schedule",
            "{body}"
        );
    }
    let list: Value = app
        .http
        .get(app.url("/v1/schedules"))
        .bearer_auth(&tenant.key)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(list["items"], json!([]), "nothing stored");
    let anonymous = app
        .http
        .get(app.url("/v1/schedules"))
        .send()
        .await
        .expect("request");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_restart_inside_the_catch_up_window_every_missed_instant_fires_once() {
    let first = TestScheduler::spawn().await;
    let tenant = first.tenant().await;
    let schedule = first.create(&tenant, &every_second("catch-up")).await;
    let id = schedule["id"].as_str().expect("id").to_owned();
    wait_until(Duration::from_secs(30), "2 instants", || async {
        (first.occurrences(&tenant, &id).await.len() >= 2).then_some(())
    })
    .await;
    let before = first.occurrences(&tenant, &id).await.len();
    first.stop.stop(true).await;
    // Down for a few instants: the next instance, on the same database, catches up.
    let down = tokio::time::Instant::now();
    wait_until(Duration::from_secs(10), "3 s of downtime", || {
        std::future::ready((down.elapsed() >= Duration::from_secs(3)).then_some(()))
    })
    .await;
    let second = first.sibling().await;
    let rows = wait_until(Duration::from_secs(30), "the missed instants", || async {
        let rows = second.occurrences(&tenant, &id).await;
        (rows.len() >= before + 4).then_some(rows)
    })
    .await;
    let mut instants: Vec<chrono::DateTime<chrono::Utc>> = rows
        .iter()
        .map(|o| {
            o["nominal_time"]
                .as_str()
                .expect("time")
                .parse()
                .expect("rfc3339")
        })
        .collect();
    instants.sort_unstable();
    assert!(
        instants
            .windows(2)
            .all(|w| (w[1] - w[0]).num_milliseconds() == 1_000),
        "every second once, none lost or doubled across the restart: {instants:?}"
    );
    assert!(
        rows.iter().all(|o| o["outcome"] == "triggered"),
        "inside the window: all fire"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_one_off_at_an_instant_finer_than_a_millisecond_fires_once() {
    let app = TestScheduler::spawn().await;
    let tenant = app.tenant().await;
    // Nanoseconds: finer than the database keeps. It once fired twice in one pass, whose
    // transaction then failed on the occurrence key and was retried forever.
    let at = (chrono::Utc::now() + chrono::Duration::seconds(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let once = app
        .create(
            &tenant,
            &json!({"name": "once", "task": {"type": "noop"}, "spec": {"at": at}}),
        )
        .await;
    let id = once["id"].as_str().expect("id").to_owned();
    // A neighbour every second shows the firer goes on meanwhile.
    let other = app.create(&tenant, &every_second("neighbour")).await;
    let other_id = other["id"].as_str().expect("id").to_owned();
    wait_until(
        Duration::from_secs(30),
        "the one-off and 3 neighbours",
        || async {
            let fired = app.occurrences(&tenant, &id).await.len();
            let neighbours = app.occurrences(&tenant, &other_id).await.len();
            (fired >= 1 && neighbours >= 3).then_some(())
        },
    )
    .await;
    let rows = app.occurrences(&tenant, &id).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["outcome"], "triggered");
    // The topic is read until the one-off's trigger is among what it holds: the neighbour's
    // triggers (other partitions) can be all a first read returns.
    let triggers = wait_until(
        Duration::from_secs(30),
        "the one-off's trigger on the topic",
        || async {
            let mine: Vec<_> = app
                .triggers(1)
                .await
                .into_iter()
                .filter(|e| {
                    matches!(e, Event::ScheduledTaskTriggered(t) if t.schedule_id.to_string() == id)
                })
                .collect();
            (!mine.is_empty()).then_some(mine)
        },
    )
    .await;
    assert_eq!(triggers.len(), 1, "{triggers:?}");
}
