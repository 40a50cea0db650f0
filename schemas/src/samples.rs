//! Example events of every kind, for tests here and in other crates (compiled always, see lib.rs).

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::{
    ApiKeyIssued, ApiKeyRevoked, Event, EventMeta, Priority, ScheduleChanged, ScheduleCreated,
    ScheduleDeleted, ScheduleOccurrenceSkipped, SchedulePaused, ScheduleResumed, ScheduleSettings,
    ScheduleState, ScheduledTaskRefused, ScheduledTaskTriggered, TaskCancelRequested,
    TaskCancelled, TaskCompleted, TaskCreated, TaskFailed, TaskProgressUpdated, TaskStarted,
    TaskState,
};

/// Metadata with a fresh event id and a random tenant.
pub fn sample_meta() -> EventMeta {
    EventMeta {
        event_id: Uuid::now_v7(),
        occurred_at: 1_790_000_000_123,
        correlation_id: "corr-1".into(),
        causation_id: Some("cause-1".into()),
        tenant_id: Uuid::new_v4(),
        producer: "test/0@here".into(),
    }
}

/// A cron schedule's settings, with every optional field set.
pub fn schedule_settings() -> ScheduleSettings {
    ScheduleSettings {
        name: "nightly report".into(),
        cron: Some("0 2 * * *".into()),
        timezone: Some("Europe/Berlin".into()),
        every: None,
        at: None,
        start_at: Some(1_790_000_000_000),
        end_at: Some(1_800_000_000_000),
        jitter: Some("PT10S".into()),
        overlap: "buffer_one".into(),
        catchup_window: Some("PT2H".into()),
        paused: false,
        note: Some("owned by the core team".into()),
        task_type: "http".into(),
        priority: Priority::High,
        payload_json: r#"{"url":"http://127.0.0.1:18200/"}"#.into(),
        max_attempts: 2,
        timeout_ms: 5_000,
        labels: BTreeMap::from([("team".to_owned(), "core".to_owned())]),
        anchor: 1_790_000_000_000,
    }
}

/// One event of every kind, in [`crate::EventKind::ALL`] order: the task events all about one
/// task, the schedule lifecycle events all about one schedule.
pub fn one_of_each() -> Vec<Event> {
    let mut events = task_and_key_events();
    events.extend(schedule_events());
    events
}

/// A schedule's life, in [`crate::EventKind::ALL`] order, with its last state record; the
/// settings stay flat where they can (an every schedule) and fully set where they can't.
fn schedule_events() -> Vec<Event> {
    let schedule_id = Uuid::new_v4();
    let settings = schedule_settings();
    let every = ScheduleSettings {
        cron: None,
        timezone: None,
        every: Some("PT30S".into()),
        jitter: None,
        catchup_window: None,
        note: None,
        labels: BTreeMap::new(),
        ..settings.clone()
    };
    vec![
        ScheduleCreated {
            meta: sample_meta(),
            schedule_id,
            settings: settings.clone(),
        }
        .into(),
        ScheduleChanged {
            meta: sample_meta(),
            schedule_id,
            settings: every.clone(),
            changed_fields: vec!["spec".into(), "jitter".into()],
        }
        .into(),
        SchedulePaused {
            meta: sample_meta(),
            schedule_id,
            settings: ScheduleSettings {
                paused: true,
                note: Some("maintenance".into()),
                ..every.clone()
            },
        }
        .into(),
        ScheduleResumed {
            meta: sample_meta(),
            schedule_id,
            settings: every.clone(),
            skipped_instants: 7,
        }
        .into(),
        ScheduleDeleted {
            meta: sample_meta(),
            schedule_id,
            settings: ScheduleSettings {
                at: Some(1_790_000_060_000),
                every: None,
                ..every.clone()
            },
        }
        .into(),
        ScheduleState {
            meta: sample_meta(),
            schedule_id,
            settings,
            deleted: true,
            created_at: 1_790_000_000_000,
            updated_at: 1_790_000_100_000,
        }
        .into(),
    ]
}

fn task_and_key_events() -> Vec<Event> {
    let task_id = Uuid::new_v4();
    let labels = BTreeMap::from([("team".to_owned(), "core".to_owned())]);
    vec![
        TaskCreated {
            meta: sample_meta(),
            task_id,
            task_type: "sleep".into(),
            priority: Priority::High,
            payload_json: r#"{"duration_ms":10}"#.into(),
            max_attempts: 3,
            timeout_ms: 30_000,
            labels: labels.clone(),
            idempotency_key: Some("k1".into()),
            schedule_id: None,
            run_at: Some(1_790_000_100_000),
        }
        .into(),
        TaskCancelRequested {
            meta: sample_meta(),
            task_id,
            reason: None,
        }
        .into(),
        TaskStarted {
            meta: sample_meta(),
            task_id,
            attempt: 1,
            instance: "ex-1".into(),
        }
        .into(),
        TaskProgressUpdated {
            meta: sample_meta(),
            task_id,
            attempt: 1,
            percent: 50,
            message: Some("half".into()),
        }
        .into(),
        TaskCompleted {
            meta: sample_meta(),
            task_id,
            attempt: 2,
            result_json: Some("{}".into()),
            duration_ms: 12,
        }
        .into(),
        TaskFailed {
            meta: sample_meta(),
            task_id,
            attempt: 1,
            error: "boom".into(),
            retryable: true,
            is_final: false,
            next_attempt_at: Some(1_790_000_001_000),
        }
        .into(),
        TaskCancelled {
            meta: sample_meta(),
            task_id,
            attempt: Some(1),
            reason: Some("user".into()),
        }
        .into(),
        ScheduledTaskTriggered {
            meta: sample_meta(),
            schedule_id: Uuid::new_v4(),
            fire_time: 1_790_000_000_000,
            task_id,
            task_type: "noop".into(),
            priority: Priority::Low,
            payload_json: "{}".into(),
            max_attempts: 1,
            timeout_ms: 1_000,
            labels,
            cancel_task_id: Some(Uuid::new_v4().to_string()),
        }
        .into(),
        ApiKeyIssued {
            meta: sample_meta(),
            key_id: Uuid::new_v4(),
            key_sha256: "ab".repeat(32),
            key_prefix: "tfk_abcdef".into(),
        }
        .into(),
        ApiKeyRevoked {
            meta: sample_meta(),
            key_id: Uuid::new_v4(),
            reason: Some("rotated".into()),
        }
        .into(),
        ScheduleOccurrenceSkipped {
            meta: sample_meta(),
            schedule_id: Uuid::new_v4(),
            nominal_time: 1_790_000_000_000,
            reason: "overlap".into(),
            detail: Some("the previous run is still running".into()),
        }
        .into(),
        ScheduledTaskRefused {
            meta: sample_meta(),
            schedule_id: Uuid::new_v4(),
            fire_time: 1_790_000_060_000,
            task_id: Uuid::new_v4(),
            reason: "tenant 0 is not known to svc-tasks".into(),
        }
        .into(),
        TaskState {
            meta: sample_meta(),
            task_id: Uuid::new_v4(),
            task_type: "sleep".into(),
            status: "completed".into(),
            priority: Priority::High,
            attempts: 2,
            max_attempts: 3,
            cancel_requested: false,
            created_at: 1_790_000_000_000,
            run_at: None,
            started_at: Some(1_790_000_000_100),
            finished_at: Some(1_790_000_002_000),
            error: None,
            schedule_id: Some(Uuid::new_v4().to_string()),
            labels: BTreeMap::from([("team".to_owned(), "core".to_owned())]),
            version: 5,
        }
        .into(),
    ]
}
