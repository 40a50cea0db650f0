//! svc-scheduler's triggers become tasks, exactly once: the task gets the trigger's id and
//! names its schedule and nominal instant, its TaskCreated goes to the executors like a
//! submission's, and a trigger that cannot become a task is parked without holding up the ones
//! behind it.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use taskflow_platform::codec::EventCodec;
use taskflow_platform::dead_letter;
use taskflow_schemas::{
    Event, EventMeta, Priority, ScheduleOccurrenceSkipped, ScheduledTaskTriggered, Stream,
    TaskCompleted, TaskCreated,
};
use uuid::Uuid;

use crate::helpers::{
    TestApp, TestTenant, assert_problem, drain_topic, json_of, noop, read_topic, wait_until,
};
use crate::projection::rebuild_and_wait;

const FIRE_TIME: i64 = 1_790_000_060_000;

/// What svc-scheduler publishes for `schedule_id`'s instant `fire_time`.
fn trigger(tenant_id: Uuid, schedule_id: Uuid, fire_time: i64) -> ScheduledTaskTriggered {
    ScheduledTaskTriggered {
        meta: EventMeta {
            event_id: Uuid::now_v7(),
            occurred_at: fire_time + 3,
            correlation_id: format!("schedule-{schedule_id}"),
            causation_id: None,
            tenant_id,
            producer: "svc-scheduler/test@it".into(),
        },
        schedule_id,
        fire_time,
        task_id: Uuid::new_v4(),
        task_type: "noop".into(),
        priority: Priority::High,
        payload_json: "{}".into(),
        max_attempts: 2,
        timeout_ms: 5_000,
        labels: BTreeMap::from([("schedule".to_owned(), "nightly".to_owned())]),
        cancel_task_id: None,
    }
}

/// The same instant announced again under a new event id (a second scheduler instance).
fn again(t: &ScheduledTaskTriggered) -> ScheduledTaskTriggered {
    ScheduledTaskTriggered {
        meta: EventMeta {
            event_id: Uuid::now_v7(),
            ..t.meta.clone()
        },
        ..t.clone()
    }
}

async fn publish(app: &TestApp, events: &[Event]) {
    for result in app.producer().publish_all(events).await {
        result.expect("published");
    }
}

async fn wait_for_task(app: &TestApp, tenant: &TestTenant, id: Uuid) -> Value {
    wait_until(
        Duration::from_secs(30),
        &format!("task {id} created"),
        || async {
            let response = app.get(tenant, &format!("/v1/tasks/{id}")).await;
            if response.status() == StatusCode::OK {
                Some(json_of(response).await)
            } else {
                None
            }
        },
    )
    .await
}

/// Every TaskCreated on the requests topic, once the outbox has published all it holds.
async fn task_created_on_kafka(app: &TestApp) -> Vec<TaskCreated> {
    wait_until(Duration::from_secs(30), "the outbox published", || async {
        (app.outbox_unpublished().await == 0).then_some(())
    })
    .await;
    let codec = EventCodec::new(&app.registry, app.kafka.topics.clone());
    let mut created = Vec::new();
    let topic = app.topic(Stream::TaskRequests);
    for record in drain_topic(&app.kafka.bootstrap_servers, &topic).await {
        if let Event::TaskCreated(e) = codec.decode(Some(&record.payload)).await.expect("event") {
            assert_eq!(record.key, Some(e.task_id.to_string().into_bytes()));
            created.push(e);
        }
    }
    created
}

fn millis_of(value: &Value) -> i64 {
    value
        .as_str()
        .and_then(|s| s.parse::<DateTime<Utc>>().ok())
        .map(|t| t.timestamp_millis())
        .unwrap_or_else(|| panic!("a timestamp, not {value}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trigger_becomes_one_task_that_names_its_schedule_and_instant() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let t = trigger(tenant.id, Uuid::new_v4(), FIRE_TIME);
    // The skip record shares the topic; svc-tasks passes over it.
    let skipped = ScheduleOccurrenceSkipped {
        meta: EventMeta {
            event_id: Uuid::now_v7(),
            ..t.meta.clone()
        },
        schedule_id: t.schedule_id,
        nominal_time: FIRE_TIME - 60_000,
        reason: "overlap".into(),
        detail: None,
    };
    publish(&app, &[skipped.into(), t.clone().into()]).await;

    let task = wait_for_task(&app, &tenant, t.task_id).await;
    assert_eq!(task["id"], t.task_id.to_string());
    assert_eq!(task["type"], "noop");
    assert_eq!(task["status"], "pending");
    assert_eq!(task["priority"], "high");
    assert_eq!(task["max_attempts"], 2);
    assert_eq!(task["timeout_ms"], 5_000);
    assert_eq!(task["labels"], json!({"schedule": "nightly"}));
    assert_eq!(task["correlation_id"], t.meta.correlation_id);
    assert_eq!(task["schedule_id"], t.schedule_id.to_string());
    assert_eq!(millis_of(&task["fire_time"]), FIRE_TIME);

    // The history opens with the trigger (the instant), then the TaskCreated it caused.
    let history = json_of(
        app.get(&tenant, &format!("/v1/tasks/{}/events", t.task_id))
            .await,
    )
    .await;
    let events = history["events"].as_array().expect("events");
    assert_eq!(events.len(), 2, "{history}");
    assert_eq!(events[0]["version"], 0);
    assert_eq!(events[0]["type"], "ScheduledTaskTriggered");
    assert_eq!(events[0]["event_id"], t.meta.event_id.to_string());
    assert_eq!(events[0]["data"]["schedule_id"], t.schedule_id.to_string());
    assert_eq!(events[0]["data"]["fire_time"], FIRE_TIME);
    assert_eq!(events[1]["version"], 1);
    assert_eq!(events[1]["type"], "TaskCreated");
    assert_eq!(events[1]["correlation_id"], t.meta.correlation_id);
    assert_eq!(events[1]["data"]["schedule_id"], t.schedule_id.to_string());
    assert_eq!(
        events[1]["data"]["causation_id"],
        t.meta.event_id.to_string()
    );

    // The executors learn of it as of any task.
    let created = task_created_on_kafka(&app).await;
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0].task_id, t.task_id);
    assert_eq!(created[0].meta.tenant_id, tenant.id);
    assert_eq!(created[0].schedule_id, Some(t.schedule_id.to_string()));
    assert_eq!(
        created[0].meta.causation_id,
        Some(t.meta.event_id.to_string())
    );
    assert_eq!(created[0].meta.correlation_id, t.meta.correlation_id);
    assert_eq!(created[0].priority, Priority::High);
    assert_eq!(app.count("tasks").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn redelivered_and_repeated_triggers_make_one_task_and_one_task_created() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let schedule_id = Uuid::new_v4();
    let t = trigger(tenant.id, schedule_id, FIRE_TIME);
    // Another scheduler instance's trigger for the same instant: a new event id, the same task
    // id (and, to tell them apart here, another priority).
    let twin = ScheduledTaskTriggered {
        priority: Priority::Low,
        ..again(&t)
    };
    // Within one batch: a redelivered copy and the twin.
    publish(
        &app,
        &[t.clone().into(), t.clone().into(), twin.clone().into()],
    )
    .await;
    let task = wait_for_task(&app, &tenant, t.task_id).await;
    assert_eq!(task["priority"], "high", "the first trigger made the task");

    // Later batches: both again, then the schedule's next instant (same key, so behind them).
    let next = trigger(tenant.id, schedule_id, FIRE_TIME + 60_000);
    publish(
        &app,
        &[t.clone().into(), twin.clone().into(), next.clone().into()],
    )
    .await;
    wait_for_task(&app, &tenant, next.task_id).await;

    let task_id = t.task_id;
    assert_eq!(
        app.count_where("tasks", &format!("id = '{task_id}'")).await,
        1
    );
    assert_eq!(
        app.count_where("task_events", &format!("stream_id = '{task_id}'"))
            .await,
        2,
        "the trigger and one TaskCreated"
    );
    assert_eq!(
        app.count_where(
            "outbox",
            &format!("event_type = 'TaskCreated' AND body->>'task_id' = '{task_id}'")
        )
        .await,
        1
    );
    assert_eq!(
        app.count_where(
            "consumed_events",
            &format!(
                "event_id IN ('{}', '{}')",
                t.meta.event_id, twin.meta.event_id
            )
        )
        .await,
        2
    );
    let created = task_created_on_kafka(&app).await;
    let of_task = created.iter().filter(|e| e.task_id == task_id).count();
    assert_eq!(of_task, 1, "{created:?}");
    assert_eq!(created.len(), 2, "this instant's task and the next one's");
}

#[tokio::test(flavor = "multi_thread")]
async fn triggers_that_cannot_become_tasks_are_parked_and_do_not_block_the_next() {
    let app = TestApp::spawn().await;
    let tenant = app
        .create_tenant(json!({"name": format!("t-{}", Uuid::new_v4().simple()), "allowed_priorities": ["low", "normal"]}))
        .await;
    // One schedule, so all four share a partition, in this order.
    let schedule_id = Uuid::new_v4();
    let at = |n: i64| FIRE_TIME + n * 60_000;
    let unknown_type = ScheduledTaskTriggered {
        task_type: "teleport".into(),
        priority: Priority::Normal,
        ..trigger(tenant.id, schedule_id, at(0))
    };
    let unknown_tenant = ScheduledTaskTriggered {
        priority: Priority::Normal,
        ..trigger(Uuid::new_v4(), schedule_id, at(1))
    };
    let invalid_payload = ScheduledTaskTriggered {
        task_type: "sleep".into(),
        payload_json: r#"{"duration_ms": "long"}"#.into(),
        priority: Priority::Normal,
        ..trigger(tenant.id, schedule_id, at(2))
    };
    // High is not among the tenant's priorities: refused as a submission would be.
    let forbidden_priority = trigger(tenant.id, schedule_id, at(3));
    let good = ScheduledTaskTriggered {
        priority: Priority::Normal,
        ..trigger(tenant.id, schedule_id, at(4))
    };
    let refused = [
        (&unknown_type, "teleport"),
        (&unknown_tenant, "not known"),
        (&invalid_payload, "/payload/duration_ms"),
        (&forbidden_priority, "not allowed"),
    ];
    let mut events: Vec<Event> = refused.iter().map(|(t, _)| (*t).clone().into()).collect();
    events.push(good.clone().into());
    publish(&app, &events).await;

    let task = wait_for_task(&app, &tenant, good.task_id).await;
    assert_eq!(task["schedule_id"], schedule_id.to_string());
    assert_eq!(
        app.count("tasks").await,
        1,
        "only the good trigger made a task"
    );
    for (t, _) in &refused {
        assert_problem(
            app.get(&tenant, &format!("/v1/tasks/{}", t.task_id)).await,
            StatusCode::NOT_FOUND,
            "task-not-found",
        )
        .await;
    }

    // Each refused trigger is parked, as published, with the reason.
    let topic = app.kafka.topics.dead_letter(&app.config.consumer_group);
    let codec = EventCodec::new(&app.registry, app.kafka.topics.clone());
    let parked = read_topic(&app.kafka.bootstrap_servers, &topic, refused.len()).await;
    assert_eq!(parked.len(), refused.len());
    for (t, why) in &refused {
        let mut found = Vec::new();
        for record in &parked {
            if let Event::ScheduledTaskTriggered(e) = codec
                .decode(Some(&record.payload))
                .await
                .expect("a trigger")
                && e.meta.event_id == t.meta.event_id
            {
                found.push(record.header(dead_letter::REASON).unwrap_or_default());
            }
        }
        assert_eq!(found.len(), 1, "{why}: {found:?}");
        assert!(found[0].contains(why), "{why}: {found:?}");
    }

    // And each is answered on the requests topic, keyed by the task id no task has, so the
    // scheduler stops waiting for it and can say why.
    wait_until(Duration::from_secs(30), "the outbox published", || async {
        (app.outbox_unpublished().await == 0).then_some(())
    })
    .await;
    let mut answers = Vec::new();
    for record in drain_topic(
        &app.kafka.bootstrap_servers,
        &app.topic(Stream::TaskRequests),
    )
    .await
    {
        if let Event::ScheduledTaskRefused(e) =
            codec.decode(Some(&record.payload)).await.expect("event")
        {
            assert_eq!(record.key, Some(e.task_id.to_string().into_bytes()));
            answers.push(e);
        }
    }
    assert_eq!(answers.len(), refused.len(), "{answers:?}");
    for (t, why) in &refused {
        let answer = answers
            .iter()
            .find(|a| a.task_id == t.task_id)
            .unwrap_or_else(|| panic!("no answer for {why}: {answers:?}"));
        assert_eq!(
            (answer.schedule_id, answer.fire_time),
            (t.schedule_id, t.fire_time)
        );
        assert_eq!(answer.meta.causation_id, Some(t.meta.event_id.to_string()));
        assert!(answer.reason.contains(why), "{why}: {}", answer.reason);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancel_other_trigger_asks_to_cancel_its_schedules_previous_run_once() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let schedule_id = Uuid::new_v4();
    let first = trigger(tenant.id, schedule_id, FIRE_TIME);
    // Another schedule's task of the same tenant: a trigger naming it must not touch it.
    let stranger = trigger(tenant.id, Uuid::new_v4(), FIRE_TIME);
    publish(&app, &[first.clone().into(), stranger.clone().into()]).await;
    wait_for_task(&app, &tenant, first.task_id).await;
    wait_for_task(&app, &tenant, stranger.task_id).await;

    let second = ScheduledTaskTriggered {
        cancel_task_id: Some(first.task_id.to_string()),
        ..trigger(tenant.id, schedule_id, FIRE_TIME + 60_000)
    };
    // Redelivered, and a third instant naming the same (already asked) run and the stranger.
    let third = ScheduledTaskTriggered {
        cancel_task_id: Some(first.task_id.to_string()),
        ..trigger(tenant.id, schedule_id, FIRE_TIME + 120_000)
    };
    let fourth = ScheduledTaskTriggered {
        cancel_task_id: Some(stranger.task_id.to_string()),
        ..trigger(tenant.id, schedule_id, FIRE_TIME + 180_000)
    };
    publish(
        &app,
        &[
            second.clone().into(),
            second.clone().into(),
            third.clone().into(),
            fourth.clone().into(),
        ],
    )
    .await;
    wait_for_task(&app, &tenant, fourth.task_id).await;

    let previous = json_of(
        app.get(&tenant, &format!("/v1/tasks/{}", first.task_id))
            .await,
    )
    .await;
    assert_eq!(previous["cancel_requested"], true, "{previous}");
    let untouched = json_of(
        app.get(&tenant, &format!("/v1/tasks/{}", stranger.task_id))
            .await,
    )
    .await;
    assert_eq!(untouched["cancel_requested"], false, "{untouched}");
    for t in [&second, &third, &fourth] {
        let task = json_of(app.get(&tenant, &format!("/v1/tasks/{}", t.task_id)).await).await;
        assert_eq!(
            task["cancel_requested"], false,
            "the new run goes on: {task}"
        );
    }
    assert_eq!(
        app.count_where(
            "outbox",
            &format!(
                "event_type = 'TaskCancelRequested' AND body->>'task_id' = '{}'",
                first.task_id
            )
        )
        .await,
        1,
        "asked once"
    );
    assert_eq!(
        app.count_where("outbox", "event_type = 'TaskCancelRequested'")
            .await,
        1,
        "nothing else asked to cancel"
    );
    // The request names the trigger as its cause, like a tenant's cancel names the request.
    let history = json_of(
        app.get(&tenant, &format!("/v1/tasks/{}/events", first.task_id))
            .await,
    )
    .await;
    let text = history.to_string();
    assert!(text.contains("TaskCancelRequested"), "{text}");
    assert!(text.contains("cancel_other"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn scheduled_tasks_take_active_slots_but_no_limit_refuses_them() {
    let app = TestApp::spawn().await;
    let tenant = app
        .create_tenant(json!({"name": format!("t-{}", Uuid::new_v4().simple()), "quotas": {"max_active_tasks": 1}}))
        .await;
    let submitted = json_of(app.submit(&tenant, &noop(), None).await).await;
    let t = trigger(tenant.id, Uuid::new_v4(), FIRE_TIME);
    publish(&app, &[t.clone().into()]).await;
    wait_for_task(&app, &tenant, t.task_id).await;
    let active = |n: i32| format!("tenant_id = '{}' AND active_tasks = {n}", tenant.id);
    assert_eq!(
        app.count_where("tenant_usage", &active(2)).await,
        1,
        "past the limit of 1"
    );
    let problem = assert_problem(
        app.submit(&tenant, &noop(), None).await,
        StatusCode::TOO_MANY_REQUESTS,
        "quota-exceeded",
    )
    .await;
    assert_eq!(problem["reason"], "max_active_tasks");

    // Both end: their slots free, the API takes tasks again.
    let ids = [
        t.task_id,
        submitted["id"].as_str().expect("id").parse().expect("uuid"),
    ];
    let completions: Vec<Event> = ids
        .iter()
        .map(|id| {
            TaskCompleted {
                meta: EventMeta::new(FIRE_TIME + 1_000, "done", tenant.id, "svc-executor/it"),
                task_id: *id,
                attempt: 1,
                result_json: None,
                duration_ms: 1,
            }
            .into()
        })
        .collect();
    publish(&app, &completions).await;
    wait_until(Duration::from_secs(30), "both slots freed", || async {
        (app.count_where("tenant_usage", &active(0)).await == 1).then_some(())
    })
    .await;
    assert_eq!(
        app.submit(&tenant, &noop(), None).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rebuilt_projection_still_names_the_schedule_and_instant() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let t = trigger(tenant.id, Uuid::new_v4(), FIRE_TIME);
    publish(&app, &[t.clone().into()]).await;
    wait_for_task(&app, &tenant, t.task_id).await;
    app.execute("UPDATE tasks SET schedule_id = NULL, fire_time = NULL, version = 7")
        .await;

    let job = rebuild_and_wait(&app).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let task = json_of(app.get(&tenant, &format!("/v1/tasks/{}", t.task_id)).await).await;
    assert_eq!(task["schedule_id"], t.schedule_id.to_string());
    assert_eq!(millis_of(&task["fire_time"]), FIRE_TIME);
    assert_eq!(
        app.count_where("tasks", &format!("id = '{}' AND version = 1", t.task_id))
            .await,
        1,
        "the trigger is not a step of the task"
    );
}
