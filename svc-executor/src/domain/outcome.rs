//! How an attempt ended and what follows it: the attempt's entry in the execution log and the
//! decision ([`Next`]) that `execution` turns into the task's next state and `events` into the
//! event that tells the world.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::handler_error::HandlerError;
use super::unknown_text::UnknownText;

/// How one attempt ended, in the execution log. Stored as text (`attempts.outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptOutcome {
    Completed,
    Failed,
    TimedOut,
    Cancelled,
    /// Its instance died or stalled past the lease; another instance took the task over.
    Lost,
    /// Its instance shut down before it finished and gave the task back.
    Released,
}

impl AttemptOutcome {
    pub const ALL: [AttemptOutcome; 6] = [
        AttemptOutcome::Completed,
        AttemptOutcome::Failed,
        AttemptOutcome::TimedOut,
        AttemptOutcome::Cancelled,
        AttemptOutcome::Lost,
        AttemptOutcome::Released,
    ];

    /// The database's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Completed => "completed",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::TimedOut => "timed_out",
            AttemptOutcome::Cancelled => "cancelled",
            AttemptOutcome::Lost => "lost",
            AttemptOutcome::Released => "released",
        }
    }
}

impl FromStr for AttemptOutcome {
    type Err = UnknownText;

    fn from_str(text: &str) -> Result<Self, UnknownText> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str() == text)
            .ok_or_else(|| UnknownText {
                what: "attempt outcome",
                text: text.into(),
            })
    }
}

impl fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an attempt ended, as the runner saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptResult {
    Succeeded(serde_json::Value),
    Failed(HandlerError),
    TimedOut { after: Duration },
    Cancelled,
}

/// The decision for the execution row and the outgoing event.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Complete {
        result: serde_json::Value,
    },
    /// Another attempt after `delay`; the failure is reported as non-final.
    Retry {
        error: String,
        delay: Duration,
    },
    /// No more attempts: the failure is final.
    Fail {
        error: String,
        retryable: bool,
    },
    Cancel,
}

impl AttemptResult {
    /// The attempt's entry in the execution log.
    pub fn outcome(&self) -> AttemptOutcome {
        match self {
            AttemptResult::Succeeded(_) => AttemptOutcome::Completed,
            AttemptResult::Failed(_) => AttemptOutcome::Failed,
            AttemptResult::TimedOut { .. } => AttemptOutcome::TimedOut,
            AttemptResult::Cancelled => AttemptOutcome::Cancelled,
        }
    }
}

/// Decides what attempt `attempt` of `max_attempts` leads to; `delay` is the backoff to use if
/// a retry follows. Timeouts count as retryable failures.
pub fn decide(result: AttemptResult, attempt: i32, max_attempts: i32, delay: Duration) -> Next {
    let (error, retryable) = match result {
        AttemptResult::Succeeded(result) => return Next::Complete { result },
        AttemptResult::Cancelled => return Next::Cancel,
        AttemptResult::TimedOut { after } => (
            format!("attempt timed out after {} ms", after.as_millis()),
            true,
        ),
        AttemptResult::Failed(e) => (e.to_string(), e.is_retryable()),
    };
    if retryable && attempt < max_attempts {
        Next::Retry { error, delay }
    } else {
        Next::Fail { error, retryable }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Duration = Duration::from_millis(250);

    #[test]
    fn retryable_failures_retry_until_the_attempts_run_out() {
        let failed = || AttemptResult::Failed(HandlerError::Retryable("503".into()));
        assert_eq!(
            decide(failed(), 1, 3, D),
            Next::Retry {
                error: "503".into(),
                delay: D
            }
        );
        assert_eq!(
            decide(failed(), 3, 3, D),
            Next::Fail {
                error: "503".into(),
                retryable: true
            }
        );
    }

    #[test]
    fn permanent_failures_end_at_once_and_timeouts_retry() {
        let permanent = AttemptResult::Failed(HandlerError::Permanent("404".into()));
        assert_eq!(
            decide(permanent, 1, 5, D),
            Next::Fail {
                error: "404".into(),
                retryable: false
            }
        );
        let timed_out = AttemptResult::TimedOut {
            after: Duration::from_millis(100),
        };
        assert!(matches!(decide(timed_out, 1, 2, D), Next::Retry { .. }));
    }

    #[test]
    fn outcomes_round_trip_through_their_text() {
        for outcome in AttemptOutcome::ALL {
            assert_eq!(outcome.as_str().parse::<AttemptOutcome>(), Ok(outcome));
            assert_eq!(outcome.to_string(), outcome.as_str());
        }
        assert_eq!(AttemptOutcome::TimedOut.as_str(), "timed_out");
        assert_eq!(
            "vanished".parse::<AttemptOutcome>(),
            Err(UnknownText {
                what: "attempt outcome",
                text: "vanished".into()
            })
        );
    }

    #[test]
    fn success_and_cancellation_end_the_task() {
        let ok = AttemptResult::Succeeded(serde_json::json!({"x": 1}));
        assert_eq!(
            decide(ok, 2, 2, D),
            Next::Complete {
                result: serde_json::json!({"x": 1})
            }
        );
        assert_eq!(decide(AttemptResult::Cancelled, 1, 3, D), Next::Cancel);
    }
}
