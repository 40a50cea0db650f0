//! Schedules on the bus: each change of a schedule's life is an event on
//! `taskflow.schedules.lifecycle.v1` and a state record on the compacted
//! `taskflow.schedules.state.v1`, both keyed by the schedule, written in the transaction of the
//! change; read back from Kafka with the schemas the registry holds for them.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use taskflow_platform::registry::RegistryClient;
use taskflow_schemas::{Event, EventKind, Priority, ScheduleState, Stream};

use crate::helpers::{TestScheduler, TestTenant, wait_until};

/// Every lifecycle event of each schedule, in topic order.
fn by_schedule(records: &[(Option<String>, Event)]) -> HashMap<String, Vec<Event>> {
    let mut lives: HashMap<String, Vec<Event>> = HashMap::new();
    for (key, event) in records {
        let key = key.clone().expect("keyed");
        assert_eq!(key, event.key().to_string(), "keyed by its schedule");
        lives.entry(key).or_default().push(event.clone());
    }
    lives
}

fn kinds(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(|e| e.kind().name()).collect()
}

async fn ok(
    app: &TestScheduler,
    tenant: &TestTenant,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let (status, answer) = app.call(tenant, method, path, body.as_ref()).await;
    assert!(status.is_success(), "{path}: {status} {answer}");
    answer
}

#[tokio::test(flavor = "multi_thread")]
async fn each_change_of_a_schedule_is_announced_once_in_order_with_its_state() {
    let app = TestScheduler::spawn().await;
    let tenant = app.tenant().await;

    // A: created, changed, changed to what it is (no news), paused, paused again with the same
    // note (no news), resumed, resumed again (no news), deleted.
    let response = app
        .http
        .post(app.url("/v1/schedules"))
        .bearer_auth(&tenant.key)
        .header("X-Correlation-Id", "corr-lifecycle-1")
        .json(&json!({
            "name": "report",
            "task": {"type": "noop", "priority": "high", "labels": {"team": "core"}},
            "spec": {"cron": "0 9 * * 1-5", "timezone": "Europe/Berlin"},
            "jitter": "PT5S",
            "overlap": "buffer_one",
        }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::CREATED);
    let a: Value = response.json().await.expect("json");
    let a = a["id"].as_str().expect("id").to_owned();
    let path = format!("/v1/schedules/{a}");
    let rename = json!({"name": "daily report", "jitter": null});
    ok(&app, &tenant, Method::PATCH, &path, Some(rename)).await;
    ok(
        &app,
        &tenant,
        Method::PATCH,
        &path,
        Some(json!({"name": "daily report"})),
    )
    .await;
    let note = json!({"note": "maintenance"});
    ok(
        &app,
        &tenant,
        Method::POST,
        &format!("{path}/pause"),
        Some(note.clone()),
    )
    .await;
    ok(
        &app,
        &tenant,
        Method::POST,
        &format!("{path}/pause"),
        Some(note),
    )
    .await;
    ok(&app, &tenant, Method::POST, &format!("{path}/resume"), None).await;
    ok(&app, &tenant, Method::POST, &format!("{path}/resume"), None).await;
    let (status, _) = app.call(&tenant, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // B: created, paused, and left so.
    let b = app
        .create(
            &tenant,
            &json!({"name": "hourly", "task": {"type": "noop"}, "spec": {"every": "PT1H"}}),
        )
        .await;
    let b = b["id"].as_str().expect("id").to_owned();
    ok(
        &app,
        &tenant,
        Method::POST,
        &format!("/v1/schedules/{b}/pause"),
        None,
    )
    .await;

    // C: created paused, resumed after some of its instants passed, deleted.
    let c = app
        .create(
            &tenant,
            &json!({"name": "ticks", "task": {"type": "noop"}, "spec": {"every": "PT1S"},
                    "overlap": "allow_all", "paused": true}),
        )
        .await;
    let c = c["id"].as_str().expect("id").to_owned();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    ok(
        &app,
        &tenant,
        Method::POST,
        &format!("/v1/schedules/{c}/resume"),
        None,
    )
    .await;
    let skipped = app
        .occurrences(&tenant, &c)
        .await
        .iter()
        .filter(|o| o["outcome"] == "skipped")
        .count();
    assert!(skipped >= 2, "{skipped} instants passed while paused");
    let (status, _) = app
        .call(&tenant, Method::DELETE, &format!("/v1/schedules/{c}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let records = app.records(Stream::ScheduleLifecycle, 10).await;
    let lives = by_schedule(&records);
    let a_life = &lives[&a];
    assert_eq!(
        kinds(a_life),
        [
            "ScheduleCreated",
            "ScheduleChanged",
            "SchedulePaused",
            "ScheduleResumed",
            "ScheduleDeleted"
        ]
    );
    assert_eq!(kinds(&lives[&b]), ["ScheduleCreated", "SchedulePaused"]);
    assert_eq!(
        kinds(&lives[&c]),
        ["ScheduleCreated", "ScheduleResumed", "ScheduleDeleted"]
    );
    assert_eq!(records.len(), 10, "nothing else on the topic");

    let Event::ScheduleCreated(created) = &a_life[0] else {
        unreachable!()
    };
    assert_eq!(created.meta.tenant_id, tenant.id);
    assert_eq!(
        created.meta.correlation_id, "corr-lifecycle-1",
        "the request's"
    );
    assert!(created.meta.producer.starts_with("svc-scheduler/"));
    let s = &created.settings;
    assert_eq!(s.name, "report");
    assert_eq!(
        (s.cron.as_deref(), s.timezone.as_deref()),
        (Some("0 9 * * 1-5"), Some("Europe/Berlin"))
    );
    assert_eq!((s.every.as_deref(), s.at), (None, None));
    assert_eq!(
        (s.jitter.as_deref(), s.overlap.as_str()),
        (Some("PT5S"), "buffer_one")
    );
    assert_eq!((s.task_type.as_str(), s.priority), ("noop", Priority::High));
    assert_eq!(s.labels.get("team").map(String::as_str), Some("core"));
    assert!(!s.paused);
    let Event::ScheduleChanged(changed) = &a_life[1] else {
        unreachable!()
    };
    assert_eq!(changed.changed_fields, ["jitter", "name"]);
    assert_eq!(
        (
            changed.settings.name.as_str(),
            changed.settings.jitter.as_deref()
        ),
        ("daily report", None)
    );
    let Event::SchedulePaused(paused) = &a_life[2] else {
        unreachable!()
    };
    assert!(paused.settings.paused);
    assert_eq!(paused.settings.note.as_deref(), Some("maintenance"));
    let Event::ScheduleResumed(resumed) = &a_life[3] else {
        unreachable!()
    };
    assert!(!resumed.settings.paused);
    let Event::ScheduleDeleted(deleted) = &a_life[4] else {
        unreachable!()
    };
    assert_eq!(deleted.settings.name, "daily report", "the settings it had");
    let Event::ScheduleResumed(c_resumed) = &lives[&c][1] else {
        unreachable!()
    };
    assert_eq!(
        usize::try_from(c_resumed.skipped_instants).ok(),
        Some(skipped)
    );

    // The state topic: one record per lifecycle event, caused by it; the last one per key is
    // the schedule as it stands.
    let states: Vec<ScheduleState> = app
        .records(Stream::ScheduleStates, 10)
        .await
        .into_iter()
        .map(|(key, event)| match event {
            Event::ScheduleState(state) => {
                assert_eq!(key, Some(state.schedule_id.to_string()));
                state
            }
            other => panic!("{other:?} on the state topic"),
        })
        .collect();
    assert_eq!(states.len(), 10);
    let causes: Vec<Option<String>> = records
        .iter()
        .map(|(_, e)| Some(e.meta().event_id.to_string()))
        .collect();
    let mut state_causes: Vec<Option<String>> =
        states.iter().map(|s| s.meta.causation_id.clone()).collect();
    let mut expected = causes.clone();
    expected.sort();
    state_causes.sort();
    assert_eq!(state_causes, expected, "each state caused by its event");
    let last: HashMap<String, &ScheduleState> = states
        .iter()
        .map(|s| (s.schedule_id.to_string(), s))
        .collect();
    assert!(last[&a].deleted && last[&c].deleted);
    assert_eq!(last[&a].settings, deleted.settings);
    let b_now = ok(
        &app,
        &tenant,
        Method::GET,
        &format!("/v1/schedules/{b}"),
        None,
    )
    .await;
    let b_state = last[&b];
    assert!(!b_state.deleted);
    assert_eq!(b_now["paused"], true);
    assert!(b_state.settings.paused);
    assert_eq!(b_state.settings.name, b_now["name"].as_str().expect("name"));
    assert_eq!(
        b_state.settings.every.as_deref(),
        b_now["spec"]["every"].as_str()
    );
    let created_at: Option<chrono::DateTime<chrono::Utc>> =
        b_now["created_at"].as_str().and_then(|t| t.parse().ok());
    assert_eq!(
        Some(b_state.created_at),
        created_at.map(|t| t.timestamp_millis()),
        "to the millisecond, as the contract keeps times"
    );

    // The outbox holds exactly what reached the topics, and the registry holds their schemas
    // under TopicRecordNameStrategy subjects.
    let announced = app
        .outbox_types()
        .await
        .into_iter()
        .filter(|t| EventKind::from_name(t).is_some_and(|k| k.is_schedule_lifecycle()))
        .count();
    assert_eq!(announced, 10);
    let subjects = RegistryClient::new(&app.config.registry)
        .subjects()
        .await
        .expect("subjects");
    for kind in [EventKind::ScheduleCreated, EventKind::ScheduleState] {
        let subject = format!(
            "{}-{}",
            app.config.kafka.topics.name(kind.stream()),
            kind.full_name()
        );
        assert!(subjects.contains(&subject), "{subject} registered");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_changes_nothing_and_announces_nothing() {
    let app = TestScheduler::spawn().await;
    let tenant = app.tenant().await;
    let stranger = app.tenant().await;
    // Weekly: nothing fires during the test, so the outbox moves only if a change is announced.
    let a = app
        .create(
            &tenant,
            &json!({"name": "weekly", "task": {"type": "noop"}, "spec": {"cron": "0 9 * * 1"}}),
        )
        .await;
    let id = a["id"].as_str().expect("id").to_owned();
    let path = format!("/v1/schedules/{id}");
    let before = app.outbox_types().await;
    assert_eq!(before, ["ScheduleCreated", "ScheduleState"]);
    let stored = ok(&app, &tenant, Method::GET, &path, None).await;

    let missing = format!("/v1/schedules/{}", uuid::Uuid::now_v7());
    let refused: Vec<(Method, String, Option<Value>, StatusCode)> = vec![
        (
            Method::POST,
            "/v1/schedules".into(),
            Some(json!({"name": "x", "task": {"type": "noop"}, "spec": {"cron": "61 * * * *"}})),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/v1/schedules".into(),
            Some(json!({"name": " weekly ", "task": {"type": "noop"}, "spec": {"every": "PT1M"}})),
            StatusCode::CONFLICT,
        ),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"spec": {"cron": "0 9 * * 1", "timezone": "Mars/Olympus"}})),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"colour": "red"})),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"task": {"type": "warp"}})),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::PATCH,
            missing.clone(),
            Some(json!({"name": "y"})),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            format!("{path}/pause"),
            Some(json!({"note": "a\u{0}b"})),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            format!("{path}/pause"),
            Some(json!({"why": "no"})),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            format!("{missing}/resume"),
            None,
            StatusCode::NOT_FOUND,
        ),
        (Method::DELETE, missing.clone(), None, StatusCode::NOT_FOUND),
    ];
    for (method, at, body, status) in refused {
        let (got, answer) = app.call(&tenant, method.clone(), &at, body.as_ref()).await;
        assert_eq!(got, status, "{method} {at} {body:?}: {answer}");
    }
    // Another tenant's schedule is missing to this one, whatever it asks.
    for (method, at, body) in [
        (Method::PATCH, path.clone(), Some(json!({"name": "mine"}))),
        (Method::POST, format!("{path}/pause"), None),
        (Method::POST, format!("{path}/resume"), None),
        (Method::DELETE, path.clone(), None),
    ] {
        let (got, _) = app
            .call(&stranger, method.clone(), &at, body.as_ref())
            .await;
        assert_eq!(got, StatusCode::NOT_FOUND, "{method} {at}");
    }

    assert_eq!(app.outbox_types().await, before, "nothing announced");
    let now = ok(&app, &tenant, Method::GET, &path, None).await;
    assert_eq!(now, stored, "nothing changed");
    // What reached the topics is the creation alone: a read that waits for two records sees
    // only its event and its state.
    let records = wait_until(
        Duration::from_secs(30),
        "the creation on both topics",
        || async {
            let life = app.records(Stream::ScheduleLifecycle, 1).await;
            let state = app.records(Stream::ScheduleStates, 1).await;
            (life.len() + state.len() >= 2).then_some((life, state))
        },
    )
    .await;
    assert_eq!(
        kinds(&records.0.into_iter().map(|(_, e)| e).collect::<Vec<_>>()),
        ["ScheduleCreated"]
    );
    assert_eq!(
        kinds(&records.1.into_iter().map(|(_, e)| e).collect::<Vec<_>>()),
        ["ScheduleState"]
    );
}
