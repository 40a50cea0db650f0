//! An execution as its log tells it: the fold that rebuilds a row of `executions` from the
//! executor's own log (the outbox, internal rows included) and `attempt_interruptions`. Every
//! change of an execution is one fact there:
//!
//! | fact (in the log as) | what it does |
//! |---|---|
//! | [`Queued`] (the received TaskCreated, an internal row) | the execution, queued, due at `max(logged, run_at)` |
//! | [`Fact::Started`] (TaskStarted) | running attempt n, leased by its instance (a claim or a takeover) |
//! | [`Fact::Released`] (`attempt_interruptions`, `released`) | queued, due when released, one attempt more allowed |
//! | [`Fact::Lost`] (`attempt_interruptions`, `lost`) | nothing: the takeover's TaskStarted moved it |
//! | [`Fact::CancelFlagged`] (the TaskCancelRequested, an internal row) | `cancel_requested` |
//! | [`Fact::Ended`] (TaskCompleted, TaskFailed, TaskCancelled) | completed, failed, cancelled, or queued for the retry TaskFailed announces |
//!
//! The state moves go through [`transition`], the one state machine; a fact it refuses (a second
//! ending, say) changes nothing, as the `attempts` view reads only an attempt's first ending.
//! Timestamps are the log's (`outbox.created_at`, the `now()` of the transaction that made the
//! change, which is also the `now()` the live statement wrote), so the fold reproduces the row
//! to the microsecond. The lease's expiry is not a fact: see [`lease_until`].

use chrono::{DateTime, Utc};

use super::execution::{ExecutionState, Transition, Trigger, transition};
use super::outcome::Next;

/// The fact "this task was queued": the TaskCreated as received, logged in the transaction that
/// queued it.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    pub task_id: uuid::Uuid,
    pub tenant_id: uuid::Uuid,
    pub task_type: String,
    pub priority: i16,
    pub payload: serde_json::Value,
    /// As TaskCreated asked; at least 1 is allowed.
    pub max_attempts: i32,
    /// As TaskCreated asked; at least 1 ms.
    pub timeout_ms: i64,
    pub correlation_id: String,
    pub created_event_id: uuid::Uuid,
    pub created_event: serde_json::Value,
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
    /// Not before this instant (TaskCreated's run_at), if any.
    pub run_at: Option<DateTime<Utc>>,
    /// When it was queued (the log row's time).
    pub at: DateTime<Utc>,
}

/// How an attempt's ending event ended the execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Completed,
    /// A non-final TaskFailed: queued again, due at its `next_attempt_at`.
    Retry {
        due: DateTime<Utc>,
    },
    /// A final TaskFailed.
    Failed,
    Cancelled,
}

/// One later fact about the execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    Started {
        attempt: i32,
        instance: String,
    },
    Ended {
        attempt: Option<i32>,
        ending: Ending,
    },
    CancelFlagged,
    Released {
        attempt: i32,
    },
    Lost {
        attempt: i32,
    },
}

/// A fact with the time it was logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub fact: Fact,
    pub at: DateTime<Utc>,
}

/// A row of `executions` as the log tells it, its lease's expiry aside.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    pub queued: Queued,
    pub max_attempts: i32,
    pub state: ExecutionState,
    pub attempt: i32,
    pub due_at: DateTime<Utc>,
    /// The instance holding the current attempt's lease, and when it took it (running only).
    pub lease: Option<(String, DateTime<Utc>)>,
    pub cancel_requested: bool,
    pub updated_at: DateTime<Utc>,
}

/// Folds an execution's log: its [`Queued`] fact, then `facts` in log order. The
/// interruptions (released, lost) have no position in the log; each belongs right after the
/// TaskStarted of its attempt (nothing of that attempt follows it but its progress), which is
/// where the fold takes them from `interruptions`.
pub fn fold(queued: Queued, facts: &[Logged], interruptions: &[Logged]) -> Execution {
    let mut execution = Execution {
        max_attempts: queued.max_attempts.max(1),
        state: ExecutionState::Queued,
        attempt: 0,
        due_at: queued
            .run_at
            .map_or(queued.at, |run_at| run_at.max(queued.at)),
        lease: None,
        cancel_requested: false,
        updated_at: queued.at,
        queued,
    };
    for logged in facts {
        apply(&mut execution, logged);
        if let Fact::Started { attempt, .. } = logged.fact {
            for interruption in interruptions.iter().filter(|i| match i.fact {
                Fact::Released { attempt: a } | Fact::Lost { attempt: a } => a == attempt,
                _ => false,
            }) {
                apply(&mut execution, interruption);
            }
        }
    }
    execution
}

/// One fact, as the state machine allows it.
fn apply(execution: &mut Execution, logged: &Logged) {
    let at = logged.at;
    let trigger = match &logged.fact {
        Fact::Started { .. } => Trigger::Claimed,
        Fact::Released { attempt } if *attempt == execution.attempt => Trigger::Released,
        Fact::Released { .. } | Fact::Lost { .. } => return,
        Fact::CancelFlagged => Trigger::CancelRequested,
        Fact::Ended { ending, .. } => match (execution.state, ending) {
            // A waiting execution cancelled: TaskCancelled is the request's effect.
            (ExecutionState::Queued, Ending::Cancelled) => Trigger::CancelRequested,
            (_, Ending::Completed) => Trigger::AttemptEnded {
                next: &COMPLETE,
                at,
            },
            (_, Ending::Failed) => Trigger::AttemptEnded { next: &FAIL, at },
            (_, Ending::Cancelled) => Trigger::AttemptEnded {
                next: &Next::Cancel,
                at,
            },
            (_, Ending::Retry { .. }) => Trigger::AttemptEnded { next: &RETRY, at },
        },
    };
    let Ok(moved) = transition(execution.state, trigger) else {
        return;
    };
    execution.updated_at = at;
    match moved {
        Transition::FlagCancel => execution.cancel_requested = true,
        Transition::Move(to) => {
            execution.state = to.to;
            match &logged.fact {
                Fact::Started { attempt, instance } => {
                    execution.attempt = *attempt;
                    execution.lease = Some((instance.clone(), at));
                }
                Fact::Released { .. } => {
                    execution.lease = None;
                    execution.due_at = at;
                    // A given-back attempt does not count against the task's attempts.
                    execution.max_attempts += 1;
                }
                Fact::Ended { ending, .. } => {
                    execution.lease = None;
                    if let Ending::Retry { due } = ending {
                        execution.due_at = *due;
                    }
                }
                Fact::CancelFlagged | Fact::Lost { .. } => {}
            }
        }
    }
}

// The decisions the state machine reads; their payloads (result, error, delay) do not matter to
// the row: the retry's due time is the one its TaskFailed announced.
const COMPLETE: Next = Next::Complete {
    result: serde_json::Value::Null,
};
const FAIL: Next = Next::Fail {
    error: String::new(),
    retryable: false,
};
const RETRY: Next = Next::Retry {
    error: String::new(),
    delay: std::time::Duration::ZERO,
};

/// The lease a running execution gets from a rebuild. The expiry is live state, not a fact: it
/// says how long the holder may stay silent before another instance takes over, it is not a
/// decision anyone acts on besides the claim, and logging it would cost a row for each lease
/// (and for each extension, were leases ever renewed). So a rebuild keeps the expiry the row
/// holds when the row still names the same attempt and holder (`current`: attempt, owner,
/// expiry); otherwise (the row was lost) the attempt gets the lease its claim granted, from the
/// TaskStarted's time: `timeout_ms + grace_ms` later. `None` for an execution not running.
pub fn lease_until(
    execution: &Execution,
    current: Option<(i32, &str, DateTime<Utc>)>,
    grace_ms: i64,
) -> Option<DateTime<Utc>> {
    let (owner, claimed_at) = execution.lease.as_ref()?;
    if execution.state != ExecutionState::Running {
        return None;
    }
    match current {
        Some((attempt, held_by, until)) if attempt == execution.attempt && held_by == owner => {
            Some(until)
        }
        _ => Some(
            *claimed_at
                + chrono::Duration::milliseconds(
                    execution.queued.timeout_ms.saturating_add(grace_ms),
                ),
        ),
    }
}

#[cfg(test)]
#[path = "replay_tests.rs"]
mod tests;
