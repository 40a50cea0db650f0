use std::collections::BTreeMap;

use taskflow_schemas::samples::sample_meta;
use taskflow_schemas::{
    ApiKeyRevoked, Event, EventMeta, Priority, TaskCompleted, TaskCreated, TaskFailed,
    TaskProgressUpdated, TaskStarted,
};
use uuid::Uuid;

use super::*;

fn meta(tenant: Uuid, at: i64) -> EventMeta {
    EventMeta {
        tenant_id: tenant,
        occurred_at: at,
        ..sample_meta()
    }
}

fn created(tenant: Uuid, task: Uuid) -> Event {
    TaskCreated {
        meta: meta(tenant, 1_000),
        task_id: task,
        task_type: "sleep".into(),
        priority: Priority::High,
        payload_json: "{}".into(),
        max_attempts: 3,
        timeout_ms: 1_000,
        labels: BTreeMap::from([("team".into(), "core".into())]),
        idempotency_key: None,
        schedule_id: None,
        run_at: None,
    }
    .into()
}

fn started(tenant: Uuid, task: Uuid, attempt: i32) -> Event {
    TaskStarted {
        meta: meta(tenant, 2_000),
        task_id: task,
        attempt,
        instance: "x".into(),
    }
    .into()
}

fn progress(tenant: Uuid, task: Uuid, percent: i32) -> Event {
    TaskProgressUpdated {
        meta: meta(tenant, 3_000),
        task_id: task,
        attempt: 1,
        percent,
        message: Some("half".into()),
    }
    .into()
}

fn completed(tenant: Uuid, task: Uuid, result: &str) -> Event {
    TaskCompleted {
        meta: meta(tenant, 4_000),
        task_id: task,
        attempt: 1,
        result_json: Some(result.into()),
        duration_ms: 5,
    }
    .into()
}

fn run(events: &[Event]) -> (Option<TaskState>, Vec<Draft>) {
    let mut state = None;
    let mut drafts = Vec::new();
    for event in events {
        if let Some((next, draft)) = fold(state.clone(), event) {
            state = Some(next);
            drafts.push(draft);
        }
    }
    (state, drafts)
}

#[test]
fn a_task_goes_pending_running_completed_and_each_step_is_told() {
    let (tenant, task) = (Uuid::new_v4(), Uuid::new_v4());
    let (state, drafts) = run(&[
        created(tenant, task),
        started(tenant, task, 1),
        progress(tenant, task, 150),
        completed(tenant, task, r#"{"ok":true}"#),
    ]);
    let state = state.expect("a task");
    assert_eq!(state.status, TaskStatus::Completed);
    assert_eq!(state.percent, Some(100));
    assert_eq!(state.task_type.as_deref(), Some("sleep"));
    assert_eq!(state.priority.as_deref(), Some("high"));
    let steps: Vec<_> = drafts
        .iter()
        .map(|d| (d.event_type, d.previous_status, d.status))
        .collect();
    assert_eq!(
        steps,
        [
            ("TaskCreated", None, TaskStatus::Pending),
            (
                "TaskStarted",
                Some(TaskStatus::Pending),
                TaskStatus::Running
            ),
            (
                "TaskProgressUpdated",
                Some(TaskStatus::Running),
                TaskStatus::Running
            ),
            (
                "TaskCompleted",
                Some(TaskStatus::Running),
                TaskStatus::Completed
            ),
        ]
    );
    assert_eq!(
        drafts[2].percent,
        Some(100),
        "percent is clamped to 0..=100"
    );
    assert_eq!(drafts[3].result_summary.as_deref(), Some(r#"{"ok":true}"#));
    assert_eq!(
        drafts[3].labels["team"], "core",
        "labels travel with every step"
    );
}

#[test]
fn creation_arriving_after_the_start_fills_in_without_moving_the_status_back() {
    let (tenant, task) = (Uuid::new_v4(), Uuid::new_v4());
    let (state, drafts) = run(&[started(tenant, task, 1), created(tenant, task)]);
    let state = state.expect("a task");
    assert_eq!(state.status, TaskStatus::Running);
    assert_eq!(state.task_type.as_deref(), Some("sleep"));
    assert_eq!(drafts[1].status, TaskStatus::Running);
}

#[test]
fn an_ended_task_stays_ended() {
    let (tenant, task) = (Uuid::new_v4(), Uuid::new_v4());
    let (state, drafts) = run(&[
        created(tenant, task),
        completed(tenant, task, "1"),
        progress(tenant, task, 10),
    ]);
    assert_eq!(state.expect("a task").status, TaskStatus::Completed);
    assert_eq!(drafts.len(), 3, "late events are still history");
    assert_eq!(drafts[2].status, TaskStatus::Completed);
}

#[test]
fn a_retried_failure_is_retrying_and_a_final_one_failed() {
    let (tenant, task) = (Uuid::new_v4(), Uuid::new_v4());
    let failed = |is_final| -> Event {
        TaskFailed {
            meta: meta(tenant, 5_000),
            task_id: task,
            attempt: 1,
            error: "boom".into(),
            retryable: true,
            is_final,
            next_attempt_at: None,
        }
        .into()
    };
    let (state, _) = run(&[created(tenant, task), failed(false)]);
    assert_eq!(state.expect("a task").status, TaskStatus::Retrying);
    let (state, drafts) = run(&[created(tenant, task), failed(false), failed(true)]);
    assert_eq!(state.expect("a task").status, TaskStatus::Failed);
    assert_eq!(drafts[2].error.as_deref(), Some("boom"));
}

#[test]
fn long_results_are_summarised() {
    let (tenant, task) = (Uuid::new_v4(), Uuid::new_v4());
    let long = "x".repeat(1_000);
    let (_, drafts) = run(&[completed(tenant, task, &long)]);
    let summary = drafts[0].result_summary.as_deref().expect("summary");
    assert_eq!(summary.chars().count(), RESULT_SUMMARY_CHARS);
    assert!(summary.ends_with('…'));
}

#[test]
fn events_of_another_tenant_and_non_task_events_are_not_told() {
    let (tenant, task) = (Uuid::new_v4(), Uuid::new_v4());
    let (state, _) = run(&[created(tenant, task)]);
    assert!(fold(state, &started(Uuid::new_v4(), task, 1)).is_none());
    let revoked: Event = ApiKeyRevoked {
        meta: sample_meta(),
        key_id: Uuid::new_v4(),
        reason: None,
    }
    .into();
    assert!(fold(None, &revoked).is_none());
}

#[test]
fn a_delayed_task_waits_as_scheduled_until_it_starts() {
    let (tenant, task) = (Uuid::new_v4(), Uuid::new_v4());
    let Event::TaskCreated(mut delayed) = created(tenant, task) else {
        unreachable!()
    };
    delayed.run_at = Some(delayed.meta.occurred_at + 60_000);
    let (state, drafts) = run(&[delayed.clone().into()]);
    assert_eq!(state.expect("a task").status, TaskStatus::Scheduled);
    assert_eq!(drafts[0].status, TaskStatus::Scheduled);
    let (state, _) = run(&[delayed.into(), started(tenant, task, 1)]);
    assert_eq!(state.expect("a task").status, TaskStatus::Running);
    let Event::TaskCreated(mut now) = created(tenant, task) else {
        unreachable!()
    };
    now.run_at = Some(now.meta.occurred_at);
    let (state, _) = run(&[now.into()]);
    assert_eq!(
        state.expect("a task").status,
        TaskStatus::Pending,
        "run_at reached: pending"
    );
}
