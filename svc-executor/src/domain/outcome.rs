//! What follows an attempt: the task's next state and the event that tells the world.

use std::time::Duration;

use super::execution::AttemptOutcome;
use super::handler_error::HandlerError;

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
