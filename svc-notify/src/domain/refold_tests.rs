//! The refold against the live fold: whatever order a task's events come in, refolding the
//! notifications the live path told gives the view the live path wrote.

use std::collections::BTreeMap;

use taskflow_schemas::samples::sample_meta;
use taskflow_schemas::{
    Event, EventMeta, Priority, TaskCancelRequested, TaskCancelled, TaskCompleted, TaskCreated,
    TaskFailed, TaskProgressUpdated, TaskStarted,
};
use uuid::Uuid;

use super::*;
use crate::domain::{Draft, fold};

fn meta(tenant: Uuid, at: i64) -> EventMeta {
    EventMeta {
        tenant_id: tenant,
        occurred_at: at,
        event_id: Uuid::new_v4(),
        ..sample_meta()
    }
}

/// A task's events, each at its own instant.
fn events(tenant: Uuid, task: Uuid, delayed: bool) -> Vec<Event> {
    vec![
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
            run_at: delayed.then_some(9_000),
        }
        .into(),
        TaskStarted {
            meta: meta(tenant, 2_000),
            task_id: task,
            attempt: 1,
            instance: "x".into(),
        }
        .into(),
        TaskProgressUpdated {
            meta: meta(tenant, 3_000),
            task_id: task,
            attempt: 1,
            percent: 40,
            message: Some("first try".into()),
        }
        .into(),
        TaskFailed {
            meta: meta(tenant, 4_000),
            task_id: task,
            attempt: 1,
            error: "boom".into(),
            retryable: true,
            is_final: false,
            next_attempt_at: Some(5_000),
        }
        .into(),
        TaskStarted {
            meta: meta(tenant, 5_000),
            task_id: task,
            attempt: 2,
            instance: "y".into(),
        }
        .into(),
        TaskCancelRequested {
            meta: meta(tenant, 6_000),
            task_id: task,
            reason: Some("enough".into()),
        }
        .into(),
        TaskCompleted {
            meta: meta(tenant, 7_000),
            task_id: task,
            attempt: 2,
            result_json: Some("{}".into()),
            duration_ms: 3,
        }
        .into(),
        TaskCancelled {
            meta: meta(tenant, 8_000),
            task_id: task,
            attempt: Some(2),
            reason: Some("late".into()),
        }
        .into(),
    ]
}

/// The notification a draft becomes, as the store reads it back.
fn told(draft: &Draft) -> Told {
    Told {
        tenant_id: draft.tenant_id,
        task_id: draft.task_id,
        kind: EventKind::from_name(draft.event_type).expect("a known event"),
        status: draft.status,
        previous_status: draft.previous_status,
        task_type: draft.task_type.clone(),
        priority: draft.priority.clone(),
        labels: draft.labels.clone(),
        percent: draft.percent,
        message: draft.message.clone(),
        attempt: draft.attempt,
        error: draft.error.clone(),
        occurred_at: draft.occurred_at,
    }
}

/// The live path's view after `events` in this order, and what it told.
fn live(events: &[&Event]) -> (Option<TaskState>, Vec<Told>) {
    let mut state = None;
    let mut history = Vec::new();
    for event in events {
        if let Some((next, draft)) = fold(state.clone(), event) {
            state = Some(next);
            history.push(told(&draft));
        }
    }
    (state, history)
}

/// Every ordering of `items` (Heap's algorithm).
fn orderings<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    fn go<T: Clone>(k: usize, items: &mut Vec<T>, out: &mut Vec<Vec<T>>) {
        if k <= 1 {
            out.push(items.clone());
            return;
        }
        for i in 0..k {
            go(k - 1, items, out);
            let j = if k.is_multiple_of(2) { i } else { 0 };
            items.swap(j, k - 1);
        }
    }
    let mut items = items.to_vec();
    let mut out = Vec::new();
    go(items.len(), &mut items, &mut out);
    out
}

#[test]
fn refolding_what_was_told_gives_the_live_view_in_every_order() {
    let (tenant, task) = (Uuid::new_v4(), Uuid::new_v4());
    for delayed in [false, true] {
        let all = events(tenant, task, delayed);
        let all: Vec<&Event> = all.iter().collect();
        let orders = orderings(&all);
        assert_eq!(orders.len(), 40_320);
        for order in orders {
            let (state, history) = live(&order);
            let refolded = refold(&history).expect("a history");
            assert_eq!(Some(refolded.state), state, "{:?}", history);
            assert!(refolded.complete);
        }
    }
}

#[test]
fn a_history_whose_start_was_pruned_is_incomplete() {
    let (tenant, task) = (Uuid::new_v4(), Uuid::new_v4());
    let all = events(tenant, task, false);
    let (state, history) = live(&all.iter().take(5).collect::<Vec<_>>());
    let rest = refold(&history[2..]).expect("a history");
    assert!(!rest.complete);
    let state = state.expect("a task");
    // What each notification carries survives; what only the pruned ones said does not.
    assert_eq!(rest.state.status, state.status);
    assert_eq!(rest.state.task_type, state.task_type);
    assert_eq!(rest.state.labels, state.labels);
    assert_eq!(rest.state.attempt, state.attempt);
    assert_eq!(rest.state.created_at, None);
    assert!(state.created_at.is_some());
    assert_eq!(refold(&[]), None);
}

#[test]
fn only_a_complete_history_replaces_a_view() {
    let (tenant, task) = (Uuid::new_v4(), Uuid::new_v4());
    let all = events(tenant, task, false);
    let (_, history) = live(&all.iter().collect::<Vec<_>>());
    let whole = refold(&history).expect("a history");
    let rest = refold(&history[1..]).expect("a history");
    assert_eq!(write_for(&whole, Some(tenant)), Write::Overwrite);
    assert_eq!(write_for(&rest, Some(tenant)), Write::Keep);
    assert_eq!(write_for(&whole, None), Write::IfAbsent);
    assert_eq!(write_for(&rest, None), Write::IfAbsent);
    assert_eq!(write_for(&whole, Some(Uuid::new_v4())), Write::Keep);
}
