//! What a schedule is: a cron expression in a zone, a fixed interval, or a one-off instant.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::crontab::Crontab;
use super::duration::format_duration;
pub use super::duration::parse_duration;
use super::error::SpecError;
use super::wall_clock;

/// The `spec` object of the API: exactly one of `cron`, `every`, `at`; `timezone` only with
/// `cron` (default `UTC`).
///
/// `{"cron": "*/5 * * * *", "timezone": "Europe/Berlin"}`, `{"every": "PT30S"}`,
/// `{"at": "2026-12-01T09:00:00Z"}`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SpecInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
}

/// A parsed cron expression, ready to match; obtained from [`Spec::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule(Crontab);

/// A validated schedule spec.
#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    /// Crontab expression as submitted (5 fields, 6 with seconds first, or `@daily` & co.),
    /// matched against wall-clock time in `timezone`.
    Cron {
        expression: String,
        timezone: Tz,
        schedule: CronSchedule,
    },
    /// Fixed interval, positive; fires at `anchor + k * interval`.
    Every(Duration),
    /// One-off.
    At(DateTime<Utc>),
}

impl Spec {
    /// Parses and checks the API's spec. Creation-time checks that need the window or the
    /// clock are in [`crate::domain::options::validate`].
    pub fn parse(input: &SpecInput) -> Result<Spec, SpecError> {
        let given = usize::from(input.cron.is_some())
            + usize::from(input.every.is_some())
            + usize::from(input.at.is_some());
        if given != 1 {
            return Err(SpecError::KindCount { given });
        }
        if input.timezone.is_some() && input.cron.is_none() {
            return Err(SpecError::TimezoneWithoutCron);
        }
        match (&input.cron, &input.every, input.at) {
            (Some(expression), _, _) => {
                let zone_name = input.timezone.as_deref().unwrap_or("UTC");
                let timezone: Tz = zone_name
                    .parse()
                    .map_err(|_| SpecError::UnknownTimezone(zone_name.to_owned()))?;
                let crontab = Crontab::parse(expression).map_err(|reason| SpecError::BadCron {
                    expression: expression.clone(),
                    reason,
                })?;
                Ok(Spec::Cron {
                    expression: expression.clone(),
                    timezone,
                    schedule: CronSchedule(crontab),
                })
            }
            (_, Some(every), _) => match parse_duration(every)? {
                interval if interval > Duration::zero() => Ok(Spec::Every(interval)),
                _ => Err(SpecError::BadDuration {
                    text: every.clone(),
                    reason: "`every` must be longer than zero".into(),
                }),
            },
            // Instants are kept to the millisecond (what events and the database agree on): a
            // finer `at` would sit after its own stored instant and fire twice.
            (_, _, Some(at)) => Ok(Spec::At(at.trunc_subsecs(3))),
            _ => Err(SpecError::KindCount { given }),
        }
    }

    /// The first nominal instant strictly after `after`, or `None` when it never fires again.
    ///
    /// - `Every`: instants are `anchor + k * interval`, k >= 0 (`anchor` is the schedule's
    ///   `start_at`, else its creation time), so they never drift with when the scheduler ran.
    /// - `At`: the instant if it is after `after`.
    /// - `Cron`: wall-clock matches in the zone. DST: a schedule that names its hours fires each
    ///   matching wall-clock time once — a time skipped by spring forward fires at the first
    ///   instant after the gap (Berlin 2026-03-29 `30 2 * * *` at 03:00 CEST), a repeated time
    ///   only in its first pass. A schedule that runs every hour follows real time instead: both
    ///   passes of a repeated hour, nothing for times that do not exist. `anchor` is unused.
    pub fn next_after(&self, after: DateTime<Utc>, anchor: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Spec::Cron {
                timezone, schedule, ..
            } => wall_clock::next_after(&schedule.0, *timezone, after),
            Spec::Every(interval) => next_interval_after(*interval, after, anchor),
            Spec::At(at) => (*at > after).then_some(*at),
        }
    }

    /// The API form; `Spec::parse(&spec.to_input())` gives `spec` back. The cron expression is
    /// returned as submitted, the zone always named, the interval in canonical spelling.
    pub fn to_input(&self) -> SpecInput {
        match self {
            Spec::Cron {
                expression,
                timezone,
                ..
            } => SpecInput {
                cron: Some(expression.clone()),
                timezone: Some(timezone.name().to_owned()),
                ..SpecInput::default()
            },
            Spec::Every(interval) => SpecInput {
                every: Some(format_duration(*interval)),
                ..SpecInput::default()
            },
            Spec::At(at) => SpecInput {
                at: Some(*at),
                ..SpecInput::default()
            },
        }
    }
}

fn next_interval_after(
    interval: Duration,
    after: DateTime<Utc>,
    anchor: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if after < anchor {
        return Some(anchor);
    }
    let nanos = |instant: DateTime<Utc>| {
        i128::from(instant.timestamp()) * 1_000_000_000
            + i128::from(instant.timestamp_subsec_nanos())
    };
    let step = i128::from(interval.num_nanoseconds()?);
    if step <= 0 {
        return None;
    }
    let steps = (nanos(after) - nanos(anchor)) / step + 1;
    let next = nanos(anchor) + steps * step;
    let seconds = i64::try_from(next.div_euclid(1_000_000_000)).ok()?;
    let subsecond = u32::try_from(next.rem_euclid(1_000_000_000)).ok()?;
    DateTime::from_timestamp(seconds, subsecond)
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
