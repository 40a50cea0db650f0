//! Schedule options that shape when it fires: the `start_at`/`end_at` window and the overlap
//! policy; and the checks made when a schedule is created.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::error::SpecError;
use super::spec::Spec;

/// What to do with an occurrence that comes due while the previous run is still active.
/// Decided by [`crate::domain::overlap::decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// Record the occurrence as skipped (overlap).
    #[default]
    Skip,
    /// Keep at most one occurrence waiting; it fires when the active run ends.
    BufferOne,
    /// Keep every occurrence waiting; they fire one after the other.
    BufferAll,
    /// Cancel the active run, then fire.
    CancelOther,
    /// Fire regardless; runs may overlap.
    AllowAll,
}

impl Overlap {
    /// The API / storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Overlap::Skip => "skip",
            Overlap::BufferOne => "buffer_one",
            Overlap::BufferAll => "buffer_all",
            Overlap::CancelOther => "cancel_other",
            Overlap::AllowAll => "allow_all",
        }
    }
}

/// When a schedule may fire: both bounds inclusive, either open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct Window {
    pub start_at: Option<DateTime<Utc>>,
    pub end_at: Option<DateTime<Utc>>,
}

/// The first nominal instant strictly after `after` inside `window`, or `None` when the
/// schedule never fires again. What the firing loop asks for the schedule's next due time.
pub fn next_in_window(
    spec: &Spec,
    window: &Window,
    anchor: DateTime<Utc>,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    // Just before start_at, so that an instant exactly at start_at counts.
    let after = match window.start_at {
        Some(start_at) => after.max(
            start_at
                .checked_sub_signed(Duration::nanoseconds(1))
                .unwrap_or(start_at),
        ),
        None => after,
    };
    let next = spec.next_after(after, anchor)?;
    match window.end_at {
        Some(end_at) if next > end_at => None,
        _ => Some(next),
    }
}

/// Nominal instants in `(from, to]` within the window, in order, at most `limit`.
pub fn occurrences(
    spec: &Spec,
    window: &Window,
    anchor: DateTime<Utc>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: usize,
) -> Vec<DateTime<Utc>> {
    let mut found = Vec::new();
    let mut cursor = from;
    while found.len() < limit {
        match next_in_window(spec, window, anchor, cursor) {
            Some(next) if next <= to => {
                found.push(next);
                cursor = next;
            }
            _ => break,
        }
    }
    found
}

/// Instants sampled to find how often a cron schedule fires; covers years of a schedule with
/// a few instants per day, whose closest pair may only occur at a day or year boundary.
const RATE_SAMPLE: usize = 1_000;

/// Creation-time checks, in this order: `end_at` before `start_at`; the schedule never fires
/// (no instant after `now` within the window); it fires more than `max_per_second` times per
/// second (a positive limit). A cron schedule fires on whole seconds, so at most once a second:
/// `* * * * * *` is allowed at a limit of 1.0; below 1.0 its gaps are sampled.
pub fn validate(
    spec: &Spec,
    window: &Window,
    anchor: DateTime<Utc>,
    now: DateTime<Utc>,
    max_per_second: f64,
) -> Result<(), SpecError> {
    if let Window {
        start_at: Some(start_at),
        end_at: Some(end_at),
    } = *window
        && end_at < start_at
    {
        return Err(SpecError::EndBeforeStart { start_at, end_at });
    }
    let Some(first) = next_in_window(spec, window, anchor, now) else {
        return Err(SpecError::NeverFires { now });
    };
    let shortest_gap = match spec {
        Spec::At(_) => None,
        Spec::Every(interval) => Some(*interval),
        Spec::Cron { .. } if max_per_second >= 1.0 => None,
        Spec::Cron { .. } => shortest_gap(spec, anchor, first),
    };
    match shortest_gap {
        Some(gap) if too_frequent(gap, max_per_second) => {
            let gap_seconds = gap.num_nanoseconds().unwrap_or(i64::MAX) as f64 / 1e9;
            Err(SpecError::TooFrequent {
                per_second: 1.0 / gap_seconds,
                gap_ms: gap_seconds * 1e3,
                max_per_second,
            })
        }
        _ => Ok(()),
    }
}

fn shortest_gap(spec: &Spec, anchor: DateTime<Utc>, first: DateTime<Utc>) -> Option<Duration> {
    let mut previous = first;
    let mut shortest: Option<Duration> = None;
    for _ in 0..RATE_SAMPLE {
        let Some(next) = spec.next_after(previous, anchor) else {
            break;
        };
        let gap = next - previous;
        shortest = Some(shortest.map_or(gap, |shortest| shortest.min(gap)));
        previous = next;
    }
    shortest
}

fn too_frequent(gap: Duration, max_per_second: f64) -> bool {
    let gap_nanos = gap.num_nanoseconds().unwrap_or(i64::MAX) as f64;
    // gap < 1s / max, multiplied out so that exactly 1/s at a limit of 1.0 is allowed.
    gap_nanos * max_per_second < 1e9
}

#[cfg(test)]
#[path = "options_tests.rs"]
mod tests;
