//! Why a schedule is refused. Each message is written to be shown to the API caller as is
//! (it becomes the problem+json `detail`).

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    #[error("a schedule needs exactly one of `cron`, `every` or `at`; {given} given")]
    KindCount { given: usize },
    #[error("`timezone` applies only to `cron` schedules (`every` and `at` are absolute)")]
    TimezoneWithoutCron,
    #[error("unknown time zone `{0}`: use an IANA name such as `Europe/Berlin` or `UTC`")]
    UnknownTimezone(String),
    #[error("invalid cron expression `{expression}`: {reason}")]
    BadCron { expression: String, reason: String },
    #[error("invalid ISO-8601 duration `{text}`: {reason}")]
    BadDuration { text: String, reason: String },
    #[error("end_at ({end_at}) is before start_at ({start_at})")]
    EndBeforeStart {
        start_at: DateTime<Utc>,
        end_at: DateTime<Utc>,
    },
    #[error(
        "the schedule never fires: it has no occurrence after {now} within its start_at/end_at"
    )]
    NeverFires { now: DateTime<Utc> },
    #[error(
        "the schedule fires {per_second} times per second (every {gap_ms} ms); at most {max_per_second} per second are allowed"
    )]
    TooFrequent {
        per_second: f64,
        gap_ms: f64,
        max_per_second: f64,
    },
}
