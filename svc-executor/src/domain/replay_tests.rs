//! Given a log, when it is folded, then the row is what the live statements wrote.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::*;
use ExecutionState::{Cancelled, Completed, Failed, Queued as QueuedState, Running};

fn t(seconds: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_790_000_000 + seconds, 0).expect("instant")
}

fn queued(max_attempts: i32, run_at: Option<DateTime<Utc>>) -> Queued {
    Queued {
        task_id: Uuid::now_v7(),
        tenant_id: Uuid::now_v7(),
        task_type: "noop".into(),
        priority: 2,
        payload: serde_json::json!({"x": 1}),
        max_attempts,
        timeout_ms: 5_000,
        correlation_id: "c".into(),
        created_event_id: Uuid::now_v7(),
        created_event: serde_json::json!({"task_id": "t"}),
        traceparent: None,
        tracestate: None,
        run_at,
        at: t(0),
    }
}

fn at(seconds: i64, fact: Fact) -> Logged {
    Logged {
        fact,
        at: t(seconds),
    }
}

fn started(attempt: i32, instance: &str) -> Fact {
    Fact::Started {
        attempt,
        instance: instance.into(),
    }
}

fn ended(attempt: i32, ending: Ending) -> Fact {
    Fact::Ended {
        attempt: Some(attempt),
        ending,
    }
}

#[test]
fn a_queued_task_is_due_when_logged_or_at_its_run_at_whichever_is_later() {
    let now = fold(queued(1, None), &[], &[]);
    assert_eq!((now.state, now.attempt, now.due_at), (QueuedState, 0, t(0)));
    assert_eq!((now.updated_at, now.lease.clone()), (t(0), None));
    assert_eq!(fold(queued(1, Some(t(60))), &[], &[]).due_at, t(60));
    assert_eq!(fold(queued(1, Some(t(-60))), &[], &[]).due_at, t(0));
    assert_eq!(fold(queued(0, None), &[], &[]).max_attempts, 1);
}

#[test]
fn a_claim_leases_the_attempt_to_its_instance_and_its_end_settles_it() {
    let running = fold(queued(1, None), &[at(1, started(1, "a"))], &[]);
    assert_eq!((running.state, running.attempt), (Running, 1));
    assert_eq!(running.lease, Some(("a".into(), t(1))));
    assert_eq!(running.updated_at, t(1));
    let done = fold(
        queued(1, None),
        &[at(1, started(1, "a")), at(2, ended(1, Ending::Completed))],
        &[],
    );
    assert_eq!(
        (done.state, done.lease.clone(), done.updated_at),
        (Completed, None, t(2))
    );
}

#[test]
fn a_retry_is_due_when_its_failure_said_and_the_next_attempt_starts_from_there() {
    let log = [
        at(1, started(1, "a")),
        at(2, ended(1, Ending::Retry { due: t(5) })),
    ];
    let waiting = fold(queued(3, None), &log, &[]);
    assert_eq!(
        (waiting.state, waiting.due_at, waiting.lease.clone()),
        (QueuedState, t(5), None)
    );
    let mut more = log.to_vec();
    more.extend([at(5, started(2, "b")), at(6, ended(2, Ending::Failed))]);
    let failed = fold(queued(3, None), &more, &[]);
    assert_eq!(
        (failed.state, failed.attempt, failed.due_at),
        (Failed, 2, t(5))
    );
}

#[test]
fn cancelling_ends_waiting_work_and_flags_running_work() {
    let waiting = fold(
        queued(1, Some(t(100))),
        &[at(
            3,
            Fact::Ended {
                attempt: None,
                ending: Ending::Cancelled,
            },
        )],
        &[],
    );
    assert_eq!(
        (waiting.state, waiting.attempt, waiting.updated_at),
        (Cancelled, 0, t(3))
    );
    let flagged = fold(
        queued(1, None),
        &[at(1, started(1, "a")), at(2, Fact::CancelFlagged)],
        &[],
    );
    assert_eq!((flagged.state, flagged.cancel_requested), (Running, true));
    assert_eq!(flagged.lease, Some(("a".into(), t(1))), "still held");
    assert_eq!(flagged.updated_at, t(2));
}

#[test]
fn a_release_queues_it_due_at_once_with_one_more_attempt_allowed() {
    let log = [at(1, started(1, "a")), at(9, started(2, "b"))];
    let released = [at(4, Fact::Released { attempt: 1 })];
    let before_restart = fold(queued(1, None), &log[..1], &released);
    assert_eq!(
        (
            before_restart.state,
            before_restart.due_at,
            before_restart.max_attempts
        ),
        (QueuedState, t(4), 2)
    );
    assert_eq!(before_restart.lease, None);
    let rerun = fold(queued(1, None), &log, &released);
    assert_eq!(
        (rerun.state, rerun.attempt, rerun.max_attempts),
        (Running, 2, 2)
    );
    assert_eq!(rerun.lease, Some(("b".into(), t(9))));
}

#[test]
fn a_release_is_taken_right_after_its_attempt_started_whatever_came_later() {
    // Released at shutdown, then cancelled while waiting: the cancel comes after the release.
    let log = [
        at(1, started(1, "a")),
        at(
            5,
            Fact::Ended {
                attempt: Some(1),
                ending: Ending::Cancelled,
            },
        ),
    ];
    let folded = fold(
        queued(1, None),
        &log,
        &[at(3, Fact::Released { attempt: 1 })],
    );
    assert_eq!((folded.state, folded.max_attempts), (Cancelled, 2));
}

#[test]
fn a_lost_attempt_is_taken_over_by_the_next_claim() {
    let log = [at(1, started(1, "a")), at(20, started(2, "b"))];
    let folded = fold(queued(2, None), &log, &[at(20, Fact::Lost { attempt: 1 })]);
    assert_eq!(
        (folded.state, folded.attempt, folded.max_attempts),
        (Running, 2, 2)
    );
    assert_eq!(folded.lease, Some(("b".into(), t(20))));
}

#[test]
fn an_ending_after_the_end_changes_nothing() {
    let log = [
        at(1, started(1, "a")),
        at(2, ended(1, Ending::Completed)),
        at(3, ended(1, Ending::Failed)),
        at(4, Fact::CancelFlagged),
    ];
    let folded = fold(queued(1, None), &log, &[]);
    assert_eq!(
        (folded.state, folded.updated_at, folded.cancel_requested),
        (Completed, t(2), false)
    );
}

#[test]
fn a_live_lease_keeps_its_expiry_and_a_lost_row_gets_the_lease_its_claim_granted() {
    let running = fold(queued(1, None), &[at(1, started(2, "a"))], &[]);
    let expiry = t(1) + Duration::milliseconds(5_000 + 1_000);
    assert_eq!(lease_until(&running, None, 1_000), Some(expiry));
    assert_eq!(
        lease_until(&running, Some((2, "a", t(99))), 1_000),
        Some(t(99)),
        "the holder's lease stays as it is"
    );
    assert_eq!(
        lease_until(&running, Some((1, "a", t(99))), 1_000),
        Some(expiry),
        "another attempt's lease is not this one's"
    );
    assert_eq!(
        lease_until(&running, Some((2, "b", t(99))), 1_000),
        Some(expiry)
    );
    let done = fold(
        queued(1, None),
        &[at(1, started(1, "a")), at(2, ended(1, Ending::Completed))],
        &[],
    );
    assert_eq!(lease_until(&done, Some((1, "a", t(99))), 1_000), None);
}
