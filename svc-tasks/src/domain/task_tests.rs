use taskflow_schemas::samples::sample_meta;
use taskflow_schemas::{
    Priority, TaskCancelled, TaskCompleted, TaskCreated, TaskFailed, TaskProgressUpdated,
    TaskStarted,
};

use super::*;

fn created() -> TaskCreated {
    TaskCreated {
        meta: sample_meta(),
        task_id: Uuid::new_v4(),
        task_type: "sleep".into(),
        priority: Priority::Normal,
        payload_json: r#"{"duration_ms":5}"#.into(),
        max_attempts: 3,
        timeout_ms: 1000,
        labels: BTreeMap::new(),
        idempotency_key: None,
        schedule_id: None,
        run_at: None,
    }
}

fn fold(events: &[Event]) -> TaskView {
    events
        .iter()
        .try_fold(None, |state, e| apply(state, e).map(Some))
        .expect("applies")
        .expect("non-empty")
}

#[test]
fn a_created_task_is_pending_with_no_attempts() {
    let c = created();
    let task = fold(&[c.clone().into()]);
    assert_eq!(task.status, TaskStatus::Pending);
    assert_eq!(task.attempts, 0);
    assert_eq!(task.version, 1);
    assert_eq!(task.payload, serde_json::json!({"duration_ms": 5}));
}

#[test]
fn a_retried_then_completed_task_shows_its_attempts_and_result() {
    let c = created();
    let id = c.task_id;
    let task = fold(&[
        c.into(),
        TaskStarted {
            meta: sample_meta(),
            task_id: id,
            attempt: 1,
            instance: "a".into(),
        }
        .into(),
        TaskFailed {
            meta: sample_meta(),
            task_id: id,
            attempt: 1,
            error: "boom".into(),
            retryable: true,
            is_final: false,
            next_attempt_at: Some(1_790_000_005_000),
        }
        .into(),
    ]);
    assert_eq!(task.status, TaskStatus::Retrying);
    assert!(task.next_attempt_at.is_some());
    let task = fold(&[
        created_with_id(id).into(),
        TaskStarted {
            meta: sample_meta(),
            task_id: id,
            attempt: 2,
            instance: "a".into(),
        }
        .into(),
        TaskProgressUpdated {
            meta: sample_meta(),
            task_id: id,
            attempt: 2,
            percent: 140,
            message: Some("m".into()),
        }
        .into(),
        TaskCompleted {
            meta: sample_meta(),
            task_id: id,
            attempt: 2,
            result_json: Some(r#"{"ok":true}"#.into()),
            duration_ms: 3,
        }
        .into(),
    ]);
    assert_eq!(task.status, TaskStatus::Completed);
    assert_eq!(task.attempts, 2);
    assert_eq!(task.progress_percent, Some(100));
    assert_eq!(task.result, Some(serde_json::json!({"ok": true})));
    assert_eq!(task.version, 4);
}

fn created_with_id(id: Uuid) -> TaskCreated {
    TaskCreated {
        task_id: id,
        ..created()
    }
}

#[test]
fn a_final_failure_ends_the_task_and_later_events_change_nothing_but_the_version() {
    let id = Uuid::new_v4();
    let failed = fold(&[
        created_with_id(id).into(),
        TaskFailed {
            meta: sample_meta(),
            task_id: id,
            attempt: 1,
            error: "bad".into(),
            retryable: false,
            is_final: true,
            next_attempt_at: None,
        }
        .into(),
        TaskProgressUpdated {
            meta: sample_meta(),
            task_id: id,
            attempt: 1,
            percent: 50,
            message: None,
        }
        .into(),
        TaskCancelled {
            meta: sample_meta(),
            task_id: id,
            attempt: None,
            reason: None,
        }
        .into(),
    ]);
    assert_eq!(failed.status, TaskStatus::Failed);
    assert_eq!(failed.progress_percent, None);
    assert_eq!(failed.error.as_deref(), Some("bad"));
    assert_eq!(failed.version, 4);
}

#[test]
fn events_of_another_task_or_without_a_task_are_refused() {
    let task = fold(&[created().into()]);
    let other = TaskStarted {
        meta: sample_meta(),
        task_id: Uuid::new_v4(),
        attempt: 1,
        instance: "a".into(),
    };
    assert!(matches!(
        apply(Some(task.clone()), &other.clone().into()),
        Err(ApplyError::WrongStream { .. })
    ));
    assert!(matches!(
        apply(None, &other.into()),
        Err(ApplyError::UnknownTask(..))
    ));
    let again = created_with_id(task.id);
    assert_eq!(
        apply(Some(task.clone()), &again.into()),
        Err(ApplyError::AlreadyExists(task.id))
    );
}

#[test]
fn cancelling_is_recorded_once_and_refused_after_the_end() {
    let id = Uuid::new_v4();
    let pending = fold(&[created_with_id(id).into()]);
    let request = decide_cancel(&pending, sample_meta(), Some("why".into()))
        .expect("allowed")
        .expect("new");
    let requested = apply(Some(pending), &request.into()).expect("applies");
    assert!(requested.cancel_requested);
    assert_eq!(decide_cancel(&requested, sample_meta(), None), Ok(None));
    let cancelled = apply(
        Some(requested),
        &TaskCancelled {
            meta: sample_meta(),
            task_id: id,
            attempt: None,
            reason: None,
        }
        .into(),
    )
    .expect("applies");
    assert_eq!(
        decide_cancel(&cancelled, sample_meta(), None),
        Err(CancelRefused::AlreadyFinished(TaskStatus::Cancelled))
    );
}

fn started(id: Uuid, attempt: i32) -> Event {
    TaskStarted {
        meta: sample_meta(),
        task_id: id,
        attempt,
        instance: "a".into(),
    }
    .into()
}

fn progress(id: Uuid, attempt: i32, percent: i32) -> Event {
    TaskProgressUpdated {
        meta: sample_meta(),
        task_id: id,
        attempt,
        percent,
        message: None,
    }
    .into()
}

fn retrying(id: Uuid, attempt: i32) -> Event {
    TaskFailed {
        meta: sample_meta(),
        task_id: id,
        attempt,
        error: format!("attempt {attempt} failed"),
        retryable: true,
        is_final: false,
        next_attempt_at: Some(1_790_000_005_000),
    }
    .into()
}

#[test]
fn a_late_start_of_an_attempt_that_already_failed_does_not_show_it_running() {
    let c = created();
    let id = c.task_id;
    let task = fold(&[
        c.into(),
        retrying(id, 1),
        started(id, 1),
        progress(id, 1, 50),
    ]);
    assert_eq!(task.status, TaskStatus::Retrying);
    assert_eq!(task.attempts, 1);
    assert_eq!(task.progress_percent, None);
    assert!(task.next_attempt_at.is_some());
    assert_eq!(task.version, 4, "the late events are still in the log");
}

#[test]
fn an_earlier_attempts_failure_arriving_after_the_next_start_keeps_the_task_running() {
    let c = created();
    let id = c.task_id;
    let task = fold(&[
        c.into(),
        started(id, 2),
        retrying(id, 1),
        progress(id, 1, 90),
    ]);
    assert_eq!(task.status, TaskStatus::Running);
    assert_eq!(task.attempts, 2);
    assert_eq!(task.error, None);
    assert_eq!(task.progress_percent, None);
    assert_eq!(task.next_attempt_at, None);
}

#[test]
fn progress_before_its_start_means_the_attempt_runs() {
    let c = created();
    let id = c.task_id;
    let task = fold(&[
        c.into(),
        retrying(id, 1),
        progress(id, 2, 30),
        started(id, 2),
    ]);
    assert_eq!(task.status, TaskStatus::Running);
    assert_eq!(task.attempts, 2);
    assert_eq!(task.progress_percent, Some(30));
    assert_eq!(task.next_attempt_at, None);
}

#[test]
fn an_ending_is_never_stale() {
    let c = created();
    let id = c.task_id;
    let completed: Event = TaskCompleted {
        meta: sample_meta(),
        task_id: id,
        attempt: 1,
        result_json: None,
        duration_ms: 5,
    }
    .into();
    let task = fold(&[c.into(), started(id, 2), completed]);
    assert_eq!(task.status, TaskStatus::Completed);
}

#[test]
fn nul_in_an_executors_result_error_or_progress_is_scrubbed_not_stored() {
    let c = created();
    let id = c.task_id;
    let task = fold(&[
        c.into(),
        TaskProgressUpdated {
            meta: sample_meta(),
            task_id: id,
            attempt: 1,
            percent: 10,
            message: Some("half\u{0}way".into()),
        }
        .into(),
        retrying(id, 1),
    ]);
    assert_eq!(task.progress_message.as_deref(), Some("half\u{FFFD}way"));
    let done = fold(&[
        created_with_id(id).into(),
        TaskCompleted {
            meta: sample_meta(),
            task_id: id,
            attempt: 1,
            result_json: Some(r#"{"body":"a\u0000b"}"#.into()),
            duration_ms: 1,
        }
        .into(),
    ]);
    assert_eq!(done.result, Some(serde_json::json!({"body": "a\u{FFFD}b"})));
}

fn delayed(run_in_ms: i64) -> TaskCreated {
    let c = created();
    TaskCreated {
        run_at: Some(c.meta.occurred_at + run_in_ms),
        ..c
    }
}

#[test]
fn a_task_due_later_than_its_creation_is_scheduled_then_runs_as_a_pending_one() {
    let c = delayed(1500);
    let id = c.task_id;
    let task = fold(&[c.clone().into()]);
    assert_eq!(task.status, TaskStatus::Scheduled);
    assert_eq!(task.run_at, c.run_at.map(millis_to_time));
    assert!(!task.status.is_terminal(), "counts as active");
    let running = apply(Some(task), &started(id, 1)).expect("applies");
    assert_eq!(running.status, TaskStatus::Running);
    assert_eq!(running.attempts, 1);
    assert_eq!(running.run_at, c.run_at.map(millis_to_time));

    // Due at (or before) its creation: nothing to wait for.
    for due in [0, -30_000] {
        let task = fold(&[delayed(due).into()]);
        assert_eq!(task.status, TaskStatus::Pending, "{due}");
        assert!(task.run_at.is_some());
    }
    assert_eq!(fold(&[created().into()]).run_at, None);
}

#[test]
fn a_scheduled_task_can_be_cancelled_before_it_is_due() {
    let c = delayed(60_000);
    let id = c.task_id;
    let task = fold(&[c.into()]);
    let request = decide_cancel(&task, sample_meta(), None)
        .expect("allowed")
        .expect("new");
    let requested = apply(Some(task), &request.into()).expect("applies");
    assert_eq!(requested.status, TaskStatus::Scheduled);
    assert!(requested.cancel_requested);
    let cancelled = apply(
        Some(requested),
        &TaskCancelled {
            meta: sample_meta(),
            task_id: id,
            attempt: None,
            reason: None,
        }
        .into(),
    )
    .expect("applies");
    assert_eq!(cancelled.status, TaskStatus::Cancelled);
    assert_eq!(cancelled.started_at, None);
    assert_eq!(TaskStatus::parse("scheduled"), Some(TaskStatus::Scheduled));
}
