//! Crontab expressions as a crontab user writes them, translated for the `cron` crate.
//!
//! The crate wants seconds first, numbers days of the week 1 = Sunday .. 7 = Saturday, and
//! always ANDs day-of-month with day-of-week. Crontab (crontab(5), Vixie cron) numbers them
//! 0 = Sunday .. 6 = Saturday with 7 also Sunday, and when *both* day fields are restricted a
//! day matches if *either* does (`0 9 1 * MON` = the 1st and every Monday). So the day-of-week
//! field is parsed here and written out in the crate's numbering, and the OR case becomes two
//! crate schedules whose union is the schedule. The crate matches wall-clock (naive) times only;
//! zones and DST are `wall_clock`'s business.

use std::str::FromStr;

use chrono::NaiveDateTime;
use cron::TimeUnitSpec;

/// A parsed crontab expression: the union of one or two `cron` crate schedules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crontab {
    schedules: Vec<cron::Schedule>,
}

const WEEKDAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Crontab {
    /// Parses 5 fields (`minute hour day-of-month month day-of-week`), 6 fields (seconds first)
    /// or one of `@hourly`, `@daily`/`@midnight`, `@weekly`, `@monthly`, `@yearly`/`@annually`.
    /// The error is a reason for the API caller.
    pub fn parse(expression: &str) -> Result<Self, String> {
        let expression = expression.trim();
        let expanded = match expression {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            "@yearly" | "@annually" => "0 0 1 1 *",
            other if other.starts_with('@') => {
                return Err(format!(
                    "unknown shorthand `{other}`; use @hourly, @daily, @weekly, @monthly or @yearly"
                ));
            }
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let (seconds, rest) = match fields.len() {
            5 => ("0", &fields[..]),
            6 => (fields[0], &fields[1..]),
            n => {
                return Err(format!(
                    "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with \
                     seconds first, found {n}"
                ));
            }
        };
        let [minutes, hours, days_of_month, months, days_of_week] =
            [0, 1, 2, 3, 4].map(|i| rest[i]);
        let weekdays = parse_days_of_week(days_of_week)?;
        let crate_weekdays = crate_days_of_week(weekdays);
        let head = format!("{seconds} {minutes} {hours}");
        let sources = if is_star(days_of_month) || is_star(days_of_week) {
            // Vixie cron: a day field starting with `*` leaves the other one alone in charge (AND).
            vec![format!("{head} {days_of_month} {months} {crate_weekdays}")]
        } else {
            vec![
                format!("{head} {days_of_month} {months} *"),
                format!("{head} * {months} {crate_weekdays}"),
            ]
        };
        let schedules = sources
            .iter()
            .map(|source| cron::Schedule::from_str(source).map_err(|error| error.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Crontab { schedules })
    }

    /// The first matching wall-clock time strictly after `after` (whole seconds).
    pub fn next_after(&self, after: NaiveDateTime) -> Option<NaiveDateTime> {
        let after = after.and_utc();
        self.schedules
            .iter()
            .filter_map(|schedule| schedule.after(&after).next())
            .min()
            .map(|time| time.naive_utc())
    }

    /// True unless the hour field is every hour. A schedule that names its hours fires each
    /// matching wall-clock time once across DST changes; an every-hour schedule keeps the rhythm
    /// of real time instead (see `wall_clock`).
    pub fn names_its_hours(&self) -> bool {
        self.schedules
            .first()
            .is_some_and(|schedule| !schedule.hours().is_all())
    }
}

fn is_star(field: &str) -> bool {
    field.starts_with('*') || field.starts_with('?')
}

/// Crontab day-of-week field -> set of days, bit 0 = Sunday .. bit 6 = Saturday.
fn parse_days_of_week(field: &str) -> Result<u8, String> {
    let mut days = 0u8;
    for item in field.split(',') {
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => {
                let step: u8 = step
                    .parse()
                    .ok()
                    .filter(|step| (1..=7).contains(step))
                    .ok_or_else(|| format!("day-of-week step `{step}` must be 1 to 7"))?;
                (base, Some(step))
            }
            None => (item, None),
        };
        let (first, last) = if base == "*" || base == "?" {
            (0, 6)
        } else if let Some((first, last)) = base.split_once('-') {
            let (first, last) = (weekday(first)?, weekday(last)?);
            if first > last {
                return Err(format!(
                    "day-of-week range `{base}` runs backwards; write it as a list, e.g. `FRI,SAT,SUN`"
                ));
            }
            (first, last)
        } else if step.is_some() {
            return Err(format!(
                "day-of-week step `{item}` needs a range or `*` before the `/`"
            ));
        } else {
            let day = weekday(base)?;
            (day, day)
        };
        for day in (first..=last).step_by(usize::from(step.unwrap_or(1))) {
            days |= 1 << (day % 7);
        }
    }
    Ok(days)
}

/// One crontab weekday: 0-7 (0 and 7 are Sunday) or a three-letter English name.
fn weekday(text: &str) -> Result<u8, String> {
    if let Ok(number) = text.parse::<u8>() {
        return if number <= 7 {
            Ok(number)
        } else {
            Err(format!(
                "day of week `{text}` must be 0-7 (0 and 7 are Sunday) or SUN-SAT"
            ))
        };
    }
    WEEKDAY_NAMES
        .iter()
        .position(|name| name.eq_ignore_ascii_case(text))
        .and_then(|index| u8::try_from(index).ok())
        .ok_or_else(|| format!("`{text}` is not a day of the week (0-7 or SUN-SAT)"))
}

/// The set written for the `cron` crate: 1 = Sunday .. 7 = Saturday.
fn crate_days_of_week(days: u8) -> String {
    if days == 0x7f {
        return "*".into();
    }
    (0..7u8)
        .filter(|day| days & (1 << day) != 0)
        .map(|day| (day + 1).to_string())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekday_field_is_renumbered_for_the_crate() {
        let crate_field = |field: &str| crate_days_of_week(parse_days_of_week(field).expect(field));
        assert_eq!(crate_field("MON-FRI"), "2,3,4,5,6");
        assert_eq!(crate_field("1-5"), "2,3,4,5,6");
        assert_eq!(crate_field("0"), "1");
        assert_eq!(crate_field("7"), "1");
        assert_eq!(crate_field("5-7"), "1,6,7");
        assert_eq!(crate_field("sat,sun"), "1,7");
        assert_eq!(crate_field("*/2"), "1,3,5,7");
        assert_eq!(crate_field("1-5/2"), "2,4,6");
        assert_eq!(crate_field("0-6"), "*");
        assert_eq!(crate_field("*"), "*");
    }

    #[test]
    fn bad_weekday_fields_are_refused() {
        for field in [
            "8", "FOO", "FRI-MON", "1/2", "*/0", "*/8", "", "MON,", "monday",
        ] {
            assert!(parse_days_of_week(field).is_err(), "{field:?} was accepted");
        }
    }

    #[test]
    fn every_hour_schedules_do_not_name_their_hours() {
        let names = |expression: &str| {
            Crontab::parse(expression)
                .expect(expression)
                .names_its_hours()
        };
        assert!(names("30 2 * * *"));
        assert!(names("0 */2 * * *"));
        assert!(names("@daily"));
        assert!(!names("*/5 * * * *"));
        assert!(!names("0 0-23 * * *"));
        assert!(!names("* * * * * *"));
        assert!(!names("@hourly"));
    }
}
