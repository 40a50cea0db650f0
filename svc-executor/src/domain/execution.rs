//! The life of an execution (one task in this service's work queue) as a state machine. How an
//! attempt ended, and what it leads to, is `outcome`'s (this file reads its decision, [`Next`]).
//!
//! | from | trigger | to |
//! |---|---|---|
//! | queued | [`Trigger::Claimed`] (it is due) | running, next attempt |
//! | queued | [`Trigger::CancelRequested`] | cancelled |
//! | running | [`Trigger::Claimed`] (its lease expired) | running, next attempt, new owner |
//! | running | [`Trigger::AttemptEnded`] with [`Next::Complete`] | completed |
//! | running | [`Trigger::AttemptEnded`] with [`Next::Retry`] | queued, due after the backoff |
//! | running | [`Trigger::AttemptEnded`] with [`Next::Fail`] | failed |
//! | running | [`Trigger::AttemptEnded`] with [`Next::Cancel`] | cancelled |
//! | running | [`Trigger::CancelRequested`] | running, flagged: its runner stops it |
//! | running | [`Trigger::Released`] (its instance shut down) | queued, due now |
//! | completed, failed, cancelled | anything | refused: these are final |
//!
//! Where each move is made: claims in `store::claim` (one statement for many rows; due work and
//! expired leases are judged by the database clock; a dead instance's attempt taken over is
//! `dispatch::rescuer`'s), the end of an attempt in `dispatch::completer` → `store::finish_all`
//! (guarded: only the lease holder of that attempt moves the row), cancellation requests in
//! `store::request_cancel`, releases in `dispatch::drain` → `store::release_owned`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use super::outcome::Next;
use super::unknown_text::UnknownText;

/// Where an execution is. Stored as text (`executions.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExecutionState {
    /// Waiting for its due time and a free slot.
    Queued,
    /// Leased by an instance that runs its current attempt.
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl ExecutionState {
    pub const ALL: [ExecutionState; 5] = [
        ExecutionState::Queued,
        ExecutionState::Running,
        ExecutionState::Completed,
        ExecutionState::Failed,
        ExecutionState::Cancelled,
    ];

    /// The database's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionState::Queued => "queued",
            ExecutionState::Running => "running",
            ExecutionState::Completed => "completed",
            ExecutionState::Failed => "failed",
            ExecutionState::Cancelled => "cancelled",
        }
    }

    /// Nothing moves an execution out of a final state.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ExecutionState::Completed | ExecutionState::Failed | ExecutionState::Cancelled
        )
    }
}

impl FromStr for ExecutionState {
    type Err = UnknownText;

    fn from_str(text: &str) -> Result<Self, UnknownText> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| UnknownText {
                what: "execution state",
                text: text.into(),
            })
    }
}

impl fmt::Display for ExecutionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens to an execution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trigger<'a> {
    /// An instance leased it for its next attempt: it was due, or the lease of the instance
    /// running it expired.
    Claimed,
    /// The lease holder's attempt ended with decision `next`, at `at`.
    AttemptEnded { next: &'a Next, at: DateTime<Utc> },
    /// A TaskCancelRequested arrived.
    CancelRequested,
    /// The lease holder shut down before the attempt finished and gave it back.
    Released,
}

impl Trigger<'_> {
    fn name(&self) -> &'static str {
        match self {
            Trigger::Claimed => "claimed",
            Trigger::AttemptEnded { .. } => "ended by an attempt",
            Trigger::CancelRequested => "cancelled",
            Trigger::Released => "released",
        }
    }
}

/// When a queued execution may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Its due time stays what it was.
    Unchanged,
    /// At once (the database's now).
    Now,
    /// At this instant (a retry waiting out its backoff, a delayed task waiting for its run_at).
    At(DateTime<Utc>),
}

/// When a new execution's first attempt may start: as soon as possible (`run_at` absent or
/// already past at `now`), else at `run_at` (milliseconds since the epoch, UTC, as TaskCreated
/// carries it). An instant too far out for a timestamp is clamped to the last one there is: a
/// task must not run earlier than asked.
pub fn first_due(run_at: Option<i64>, now: DateTime<Utc>) -> Due {
    let Some(millis) = run_at else {
        return Due::Now;
    };
    let at = run_at_instant(millis);
    if at > now { Due::At(at) } else { Due::Now }
}

/// TaskCreated's run_at (milliseconds since the epoch, UTC) as an instant, clamped to the
/// instants there are. The queue stores a new execution due at the later of the database's now
/// and this (`store::insert_executions`), and the log's fold does the same
/// (`replay::fold`).
pub fn run_at_instant(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).unwrap_or(if millis > 0 {
        DateTime::<Utc>::MAX_UTC
    } else {
        DateTime::<Utc>::MIN_UTC
    })
}

/// A change of state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    pub to: ExecutionState,
    pub due: Due,
}

/// What a trigger does to an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Move(Move),
    /// It stays running; its runner is asked to stop (the cancel flag) and ends the attempt as
    /// cancelled.
    FlagCancel,
}

/// A trigger that does not apply to the execution's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an execution that is {from} cannot be {trigger}")]
pub struct Refused {
    pub from: ExecutionState,
    pub trigger: &'static str,
}

/// The state machine: what `trigger` does to an execution that is `from`.
pub fn transition(from: ExecutionState, trigger: Trigger<'_>) -> Result<Transition, Refused> {
    use ExecutionState::{Queued, Running};
    let to = |to, due| Ok(Transition::Move(Move { to, due }));
    match (from, trigger) {
        (Queued | Running, Trigger::Claimed) => to(Running, Due::Unchanged),
        (Queued, Trigger::CancelRequested) => to(ExecutionState::Cancelled, Due::Unchanged),
        (Running, Trigger::CancelRequested) => Ok(Transition::FlagCancel),
        (Running, Trigger::AttemptEnded { next, at }) => {
            Ok(Transition::Move(after_attempt(next, at)))
        }
        (Running, Trigger::Released) => to(Queued, Due::Now),
        (from, trigger) => Err(Refused {
            from,
            trigger: trigger.name(),
        }),
    }
}

/// Where a running execution goes when its attempt ended with `next` at `at`: the
/// `AttemptEnded` rows of [`transition`], which cannot be refused.
pub fn after_attempt(next: &Next, at: DateTime<Utc>) -> Move {
    let (to, due) = match next {
        Next::Complete { .. } => (ExecutionState::Completed, Due::Unchanged),
        Next::Retry { delay, .. } => (ExecutionState::Queued, Due::At(to_millis(at + *delay))),
        Next::Fail { .. } => (ExecutionState::Failed, Due::Unchanged),
        Next::Cancel => (ExecutionState::Cancelled, Due::Unchanged),
    };
    Move { to, due }
}

/// `at` to the millisecond below: a retry's due time is the one its TaskFailed announces
/// (`next_attempt_at`, milliseconds), so that the row folded from the log is the row written.
fn to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use ExecutionState::{Cancelled, Completed, Failed, Queued, Running};

    fn at() -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_790_000_000, 0).expect("instant")
    }

    fn moved(to: ExecutionState, due: Due) -> Result<Transition, Refused> {
        Ok(Transition::Move(Move { to, due }))
    }

    fn ended(from: ExecutionState, next: &Next) -> Result<Transition, Refused> {
        transition(from, Trigger::AttemptEnded { next, at: at() })
    }

    #[test]
    fn an_attempts_decision_settles_a_running_execution() {
        let complete = Next::Complete {
            result: serde_json::json!({"ok": true}),
        };
        assert_eq!(ended(Running, &complete), moved(Completed, Due::Unchanged));
        let fail = Next::Fail {
            error: "404".into(),
            retryable: false,
        };
        assert_eq!(ended(Running, &fail), moved(Failed, Due::Unchanged));
        assert_eq!(
            ended(Running, &Next::Cancel),
            moved(Cancelled, Due::Unchanged)
        );
    }

    #[test]
    fn a_retry_queues_it_again_due_after_the_backoff() {
        let retry = Next::Retry {
            error: "503".into(),
            delay: Duration::from_millis(1_500),
        };
        let due = at() + chrono::Duration::milliseconds(1_500);
        assert_eq!(ended(Running, &retry), moved(Queued, Due::At(due)));
        assert_eq!(after_attempt(&retry, at()).due, Due::At(due));
        let odd = at() + chrono::Duration::microseconds(1_234_567);
        assert_eq!(
            after_attempt(&retry, odd).due,
            Due::At(at() + chrono::Duration::milliseconds(2_734)),
            "to the millisecond its TaskFailed announces"
        );
    }

    #[test]
    fn a_new_task_is_due_at_its_run_at_or_now_whichever_is_later() {
        let now = at();
        let ms = now.timestamp_millis();
        assert_eq!(first_due(None, now), Due::Now);
        assert_eq!(
            first_due(Some(ms + 1_500), now),
            Due::At(now + chrono::Duration::milliseconds(1_500))
        );
        assert_eq!(first_due(Some(ms), now), Due::Now);
        assert_eq!(first_due(Some(ms - 3_600_000), now), Due::Now);
        assert_eq!(first_due(Some(i64::MIN), now), Due::Now);
        assert_eq!(
            first_due(Some(i64::MAX), now),
            Due::At(DateTime::<Utc>::MAX_UTC)
        );
    }

    #[test]
    fn claims_start_due_work_and_take_over_expired_leases() {
        assert_eq!(
            transition(Queued, Trigger::Claimed),
            moved(Running, Due::Unchanged)
        );
        assert_eq!(
            transition(Running, Trigger::Claimed),
            moved(Running, Due::Unchanged)
        );
    }

    #[test]
    fn cancelling_ends_waiting_work_and_flags_running_work() {
        assert_eq!(
            transition(Queued, Trigger::CancelRequested),
            moved(Cancelled, Due::Unchanged)
        );
        assert_eq!(
            transition(Running, Trigger::CancelRequested),
            Ok(Transition::FlagCancel)
        );
    }

    #[test]
    fn a_release_makes_it_due_at_once() {
        assert_eq!(
            transition(Running, Trigger::Released),
            moved(Queued, Due::Now)
        );
    }

    #[test]
    fn only_running_executions_end_attempts_or_are_released() {
        assert_eq!(
            ended(Queued, &Next::Cancel),
            Err(Refused {
                from: Queued,
                trigger: "ended by an attempt"
            })
        );
        assert!(transition(Queued, Trigger::Released).is_err());
    }

    #[test]
    fn final_states_refuse_every_trigger() {
        for from in ExecutionState::ALL.into_iter().filter(|s| s.is_final()) {
            for trigger in [
                Trigger::Claimed,
                Trigger::AttemptEnded {
                    next: &Next::Cancel,
                    at: at(),
                },
                Trigger::CancelRequested,
                Trigger::Released,
            ] {
                let refused = transition(from, trigger).expect_err("final");
                assert_eq!(refused.from, from);
            }
        }
        assert!(!Queued.is_final() && !Running.is_final());
    }

    #[test]
    fn states_round_trip_through_their_text() {
        for state in ExecutionState::ALL {
            assert_eq!(state.as_str().parse::<ExecutionState>(), Ok(state));
            assert_eq!(state.to_string(), state.as_str());
        }
        assert_eq!(
            "paused".parse::<ExecutionState>(),
            Err(UnknownText {
                what: "execution state",
                text: "paused".into()
            })
        );
    }
}
