//! When a delayed submission is due: `run_at` or `delay_ms`, resolved against the time of
//! submission, within the bounds below.

use chrono::{DateTime, TimeDelta, Utc};

/// Longest delay (and farthest `run_at`) of a delayed task: 365 days, in milliseconds.
pub const MAX_DELAY_MS: i64 = 31_536_000_000;
/// How far in the past a `run_at` may lie (clients' clocks are not ours): such a task is due
/// at once. Further back is more likely a mistake than skew, and is refused.
pub const RUN_AT_PAST_TOLERANCE_MS: i64 = 60_000;

/// The instant a delayed submission is due, resolved against `now`, or the problems with its
/// `run_at` / `delay_ms` as (pointer, message).
pub fn resolve_run_at(
    run_at: Option<&str>,
    delay_ms: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, Vec<(&'static str, String)>> {
    let both = "give run_at or delay_ms, not both".to_owned();
    match (run_at, delay_ms) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(vec![("/run_at", both.clone()), ("/delay_ms", both)]),
        (None, Some(delay)) => {
            if !(0..=MAX_DELAY_MS).contains(&delay) {
                return Err(vec![(
                    "/delay_ms",
                    format!("{delay} is outside 0..={MAX_DELAY_MS} (365 days)"),
                )]);
            }
            Ok(Some(whole_millis(now) + TimeDelta::milliseconds(delay)))
        }
        (Some(text), None) => {
            let at = DateTime::parse_from_rfc3339(text)
                .map_err(|e| vec![("/run_at", format!("{text:?} is not an RFC 3339 time: {e}"))])?
                .with_timezone(&Utc);
            let at = whole_millis(at);
            let ahead = (at - now).num_milliseconds();
            if ahead > MAX_DELAY_MS {
                return Err(vec![("/run_at", "is more than 365 days ahead".to_owned())]);
            }
            if ahead < -RUN_AT_PAST_TOLERANCE_MS {
                return Err(vec![(
                    "/run_at",
                    format!(
                        "is more than {} s in the past (up to {} s is tolerated as clock skew, and runs at once)",
                        RUN_AT_PAST_TOLERANCE_MS / 1000,
                        RUN_AT_PAST_TOLERANCE_MS / 1000
                    ),
                )]);
            }
            Ok(Some(at))
        }
    }
}

/// `at` without its sub-millisecond part: the contract carries milliseconds.
fn whole_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}
