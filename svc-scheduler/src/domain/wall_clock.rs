//! From matching wall-clock times in a zone to instants, across DST changes.
//!
//! The `cron` crate alone skips a wall-clock time that does not exist (spring forward) and
//! yields a repeated one twice (fall back). The rules here instead:
//!
//! - A schedule that **names its hours** (`30 2 * * *`, `*/15 9-17 * * *`, `@daily`) fires each
//!   matching wall-clock time exactly once: a time in the spring-forward gap fires at the first
//!   instant after the gap (03:00 local in Europe/Berlin), once even if several matching times
//!   fall in the gap; a repeated time fires at its first (daylight-time) instant only.
//! - A schedule whose hour field is **every hour** (`*/5 * * * *`, `0 * * * *`, `* * * * * *`)
//!   follows real time, like Vixie cron's wildcard jobs: it fires in both passes of a repeated
//!   hour and skips the times that do not exist, so its rhythm has no hole or burst.

use chrono::offset::LocalResult;
use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::crontab::Crontab;

/// Larger than any backward shift of a zone's clocks in tzdata for the years schedules run in
/// (a DST fall-back is one hour, at most two): how far ahead a fall-back is looked for.
const MAX_SHIFT: Duration = Duration::hours(3);

/// A day before and after the years the `cron` crate matches, so every zone's local time is in.
const CRON_YEARS_START: DateTime<Utc> = DateTime::from_timestamp_nanos(-86_400_000_000_000);
const CRON_YEARS_END: DateTime<Utc> = DateTime::from_timestamp_nanos(4_134_067_200_000_000_000);

/// Matches examined per call before giving up; more than an hour of a once-per-second
/// schedule whose matches in a repeated hour do not fire again.
const SCAN_LIMIT: usize = 100_000;

/// The first instant strictly after `after` at which `crontab` fires in `zone`.
pub fn next_after(crontab: &Crontab, zone: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    // The `cron` crate knows the years 1970-2100; clamping also keeps local times in chrono's
    // range (converting its extreme instants to a zone panics).
    if after >= CRON_YEARS_END {
        return None;
    }
    let after = after.max(CRON_YEARS_START);
    let names_hours = crontab.names_its_hours();
    // Wall-clock times after `after`'s: the earliest instant each fires at grows with the wall
    // clock, so the first one that fires after `after` is the answer among them.
    let wall_after = local(zone, after);
    let mut cursor = wall_after.with_nanosecond(0).unwrap_or(wall_after);
    let mut forward = None;
    for _ in 0..SCAN_LIMIT {
        let Some(wall) = crontab.next_after(cursor) else {
            break;
        };
        forward = first_instant_after(zone, wall, names_hours, after);
        if forward.is_some() {
            break;
        }
        cursor = wall;
    }
    // Clocks going back soon show wall-clock times *before* `after`'s again; an every-hour
    // schedule fires them in that second pass, possibly before `forward`.
    let second_pass = if names_hours {
        None
    } else {
        fall_back_after(zone, after).and_then(|transition| {
            let wall = crontab.next_after(local(zone, transition) - Duration::seconds(1))?;
            match zone.from_local_datetime(&wall) {
                LocalResult::Ambiguous(a, b) => Some(a.max(b).to_utc()).filter(|t| *t > after),
                _ => None,
            }
        })
    };
    match (forward, second_pass) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The instant clocks go back, if they do within `MAX_SHIFT` after `after`.
fn fall_back_after(zone: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let offset = |instant: DateTime<Utc>| local(zone, instant) - instant.naive_utc();
    let before_offset = offset(after);
    let horizon = after.checked_add_signed(MAX_SHIFT)?;
    if offset(horizon) >= before_offset {
        return None;
    }
    let (mut before, mut at_or_after) = (after.timestamp(), horizon.timestamp());
    while at_or_after - before > 1 {
        let middle = before + (at_or_after - before) / 2;
        if offset(at_second(middle)) < before_offset {
            at_or_after = middle;
        } else {
            before = middle;
        }
    }
    Some(at_second(at_or_after))
}

fn at_second(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or(DateTime::UNIX_EPOCH)
}

fn local(zone: Tz, instant: DateTime<Utc>) -> NaiveDateTime {
    instant.with_timezone(&zone).naive_local()
}

/// The earliest instant after `after` at which the matching wall-clock time `wall` fires.
fn first_instant_after(
    zone: Tz,
    wall: NaiveDateTime,
    names_hours: bool,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let later = |instant: DateTime<Utc>| (instant > after).then_some(instant);
    match zone.from_local_datetime(&wall) {
        LocalResult::Single(instant) => later(instant.to_utc()),
        LocalResult::Ambiguous(a, b) => {
            let (first, second) = (a.min(b).to_utc(), a.max(b).to_utc());
            // Only every-hour schedules fire in the second pass of a repeated hour.
            later(first).or_else(|| if names_hours { None } else { later(second) })
        }
        LocalResult::None if names_hours => later(gap_end(zone, wall)),
        LocalResult::None => None,
    }
}

/// The first instant whose wall-clock time is at or after `wall`, a time inside a
/// spring-forward gap: the instant the gap ends. chrono-tz does not expose transitions, so
/// this searches the day around it (offsets are within ±14 hours, so the bounds hold).
fn gap_end(zone: Tz, wall: NaiveDateTime) -> DateTime<Utc> {
    let as_utc = wall.and_utc().timestamp();
    let (mut before, mut at_or_after) = (as_utc - 86_400, as_utc + 86_400);
    while at_or_after - before > 1 {
        let middle = before + (at_or_after - before) / 2;
        if local(zone, at_second(middle)) >= wall {
            at_or_after = middle;
        } else {
            before = middle;
        }
    }
    at_second(at_or_after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::test_time::utc;

    #[test]
    fn gap_end_is_the_instant_clocks_jump() {
        let wall =
            |text: &str| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").expect(text);
        assert_eq!(
            gap_end(chrono_tz::Europe::Berlin, wall("2026-03-29 02:30:00")),
            utc("2026-03-29T01:00:00Z")
        );
        assert_eq!(
            gap_end(chrono_tz::America::New_York, wall("2026-03-08 02:00:00")),
            utc("2026-03-08T07:00:00Z")
        );
    }
}
