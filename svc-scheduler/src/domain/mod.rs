//! Pure rules of svc-scheduler: no I/O, no clock reads. Every function takes the times it needs.
//!
//! - [`spec`]: what a schedule is (`cron` + zone, `every`, `at`) and its next nominal instant.
//! - [`options`]: the `start_at`/`end_at` window, occurrences in a range, creation-time checks.
//! - [`jitter`], [`overlap`], [`catchup`]: how a due occurrence is delayed, admitted or missed.
//! - [`duration`]: the ISO-8601 durations used by `every`, `jitter` and `catchup_window`.
//! - [`definition`]: a schedule as the API takes and the database stores it, checked into its
//!   rules ([`definition::ScheduleModel`]); [`template`]: the task it starts, checked against
//!   the task-type catalogue.
//! - [`firing`]: what to do about a due schedule (trigger, skip, miss; where it stands after).
//! - [`lifecycle`]: which changes of a schedule are announced on the bus, and the records they
//!   write (the lifecycle event and the schedule's state after it).
//! - [`settings`]: a definition and the settings those records carry, one the image of the other.
//! - [`occurrence`]: what became of an instant, in the words of the `occurrences` table.
//! - [`refold`]: the projections (`schedules`, `occurrences`) as the log (the outbox) tells them.
//!
//! DST rules for cron schedules are described on [`spec::Spec::next_after`].

pub mod catchup;
pub mod definition;
pub mod duration;
pub mod error;
pub mod firing;
pub mod jitter;
pub mod lifecycle;
pub mod occurrence;
pub mod options;
pub mod overlap;
pub mod refold;
pub mod settings;
pub mod spec;
pub mod template;

mod crontab;
mod wall_clock;

pub use catchup::{Due, classify};
pub use duration::{format_duration, parse_duration};
pub use error::SpecError;
pub use jitter::jitter;
pub use options::{Overlap, Window, next_in_window, occurrences, validate};
pub use overlap::{Decision, PreviousRun, decide};
pub use spec::{CronSchedule, Spec, SpecInput};

#[cfg(test)]
mod dst_tests;
#[cfg(test)]
mod test_time;
