//! What became of a nominal instant, in the words the `occurrences` table and the API use: one
//! definition for the writers (`service::record`, the consumer) and the rebuild from the log
//! (`domain::refold`), so a rebuilt row reads exactly like the one it replaces.

use uuid::Uuid;

/// The `outcome` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A task was asked for.
    Triggered,
    /// svc-tasks refused the trigger: no task runs (an input fact, from its answer).
    Refused,
    /// Not run, by the overlap policy or because the schedule was paused.
    Skipped,
    /// Older than the catch-up window when the scheduler got to it.
    Missed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Triggered => "triggered",
            Outcome::Refused => "refused",
            Outcome::Skipped => "skipped",
            Outcome::Missed => "missed",
        }
    }

    /// A skip's outcome, from the reason its event names.
    pub fn of_skip(reason: &str) -> Self {
        if reason == "missed" {
            Outcome::Missed
        } else {
            Outcome::Skipped
        }
    }
}

/// Who asked for a trigger: the timetable (the firer) or a person, by hand or as a backfill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Timetable,
    Manual,
    Backfill,
}

/// The `reason` of a triggered occurrence.
pub fn trigger_reason(origin: Origin, cancel: Option<Uuid>) -> Option<String> {
    match (origin, cancel) {
        (Origin::Manual, _) => Some("manual".into()),
        (Origin::Backfill, _) => Some("backfill".into()),
        (Origin::Timetable, Some(previous)) => Some(format!(
            "overlap cancel_other: asked svc-tasks to cancel the previous run, task {previous}"
        )),
        (Origin::Timetable, None) => None,
    }
}

/// The `reason` of a skipped or missed occurrence.
pub fn skip_reason(reason: &str, detail: &str) -> String {
    format!("{reason}: {detail}")
}

/// The `reason` of an occurrence whose trigger svc-tasks refused, with the reason it gave.
pub fn refused_reason(reason: &str) -> String {
    format!("refused by svc-tasks: {reason}")
}
