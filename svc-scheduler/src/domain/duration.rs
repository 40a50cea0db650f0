//! ISO-8601 durations for `every`, `jitter` and `catchup_window`: `PT30S`, `PT5M`, `PT1H30M`,
//! `P1D`, `P1W`, `PT0.5S`. Only units of fixed length are accepted: years and months have none,
//! and a day is exactly 24 hours (an interval, not a calendar step). Zero is accepted (no jitter,
//! no catch-up); `every` refuses it in `Spec::parse`. A negative duration cannot be written.

use chrono::Duration;

use super::error::SpecError;

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// Parses a non-negative ISO-8601 duration (case-insensitive, fractions on seconds only).
pub fn parse_duration(text: &str) -> Result<Duration, SpecError> {
    let refuse = |reason: &str| SpecError::BadDuration {
        text: text.to_owned(),
        reason: reason.to_owned(),
    };
    let upper = text.trim().to_ascii_uppercase();
    let rest = upper
        .strip_prefix('P')
        .ok_or_else(|| refuse("it must start with `P`, e.g. `PT30S`, `PT5M`, `P1D`"))?;
    let (date_part, time_part) = rest.split_once('T').unwrap_or((rest, ""));
    if rest.contains('T') && time_part.is_empty() {
        return Err(refuse("`T` must be followed by hours, minutes or seconds"));
    }
    if date_part.is_empty() && time_part.is_empty() {
        return Err(refuse("it has no components, e.g. `PT30S`"));
    }
    const DATE_UNITS: &[(char, i128)] = &[('W', 7 * 86_400), ('D', 86_400)];
    const TIME_UNITS: &[(char, i128)] = &[('H', 3_600), ('M', 60), ('S', 1)];
    let nanos = sum_components(date_part, DATE_UNITS, true).map_err(|reason| refuse(&reason))?
        + sum_components(time_part, TIME_UNITS, false).map_err(|reason| refuse(&reason))?;
    i64::try_from(nanos)
        .map(Duration::nanoseconds)
        .map_err(|_| refuse("it is too long"))
}

/// Nanoseconds of one part (date or time) of a duration; `units` in the order they must appear.
fn sum_components(part: &str, units: &[(char, i128)], is_date: bool) -> Result<i128, String> {
    let mut total: i128 = 0;
    let mut next_unit = 0;
    let mut number = String::new();
    for c in part.chars() {
        if c.is_ascii_digit() || c == '.' || c == ',' {
            number.push(c);
            continue;
        }
        if is_date && (c == 'Y' || c == 'M') {
            return Err("years and months have no fixed length; use days, e.g. `P30D`".into());
        }
        let Some(offset) = units[next_unit..].iter().position(|(unit, _)| *unit == c) else {
            let expected: String = units.iter().map(|(unit, _)| *unit).collect();
            return Err(format!(
                "unexpected `{c}`; expected a number followed by one of `{expected}`, in that order{}",
                if is_date {
                    " (hours, minutes and seconds go after `T`)"
                } else {
                    ""
                }
            ));
        };
        let (unit, seconds) = units[next_unit + offset];
        next_unit += offset + 1;
        total += component_nanos(&number, unit, seconds)?;
        number.clear();
    }
    if !number.is_empty() {
        return Err(format!("`{number}` has no unit"));
    }
    Ok(total)
}

fn component_nanos(number: &str, unit: char, seconds_per_unit: i128) -> Result<i128, String> {
    let (whole, fraction) = match number.split_once(['.', ',']) {
        Some((whole, fraction)) if unit == 'S' => (whole, Some(fraction)),
        Some(_) => return Err("only seconds may have a fraction, e.g. `PT0.5S`".into()),
        None => (number, None),
    };
    let fraction_ok = fraction.is_none_or(|digits| {
        !digits.is_empty() && digits.len() <= 9 && digits.chars().all(|c| c.is_ascii_digit())
    });
    let fraction = fraction.unwrap_or("");
    if whole.is_empty() || !fraction_ok {
        return Err(format!(
            "`{number}{unit}` is not a number of {}",
            unit_name(unit)
        ));
    }
    let whole: i128 = whole
        .parse::<u64>()
        .map_err(|_| format!("`{number}{unit}` is too long"))?
        .into();
    let fraction_nanos: i128 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<9}")
            .parse::<i128>()
            .map_err(|_| format!("`{number}{unit}` is not a number of seconds"))?
    };
    Ok(whole * seconds_per_unit * NANOS_PER_SECOND + fraction_nanos)
}

fn unit_name(unit: char) -> &'static str {
    match unit {
        'W' => "weeks",
        'D' => "days",
        'H' => "hours",
        'M' => "minutes",
        _ => "seconds",
    }
}

/// The canonical spelling of a duration (`P1DT2H`, `PT1H30M`, `PT0.5S`); what the API
/// returns, whatever spelling was submitted. `parse_duration(format_duration(d)) == d`.
pub fn format_duration(duration: Duration) -> String {
    let nanos = duration.num_nanoseconds().unwrap_or(i64::MAX).max(0);
    let total_seconds = nanos / 1_000_000_000;
    let subsecond = nanos % 1_000_000_000;
    let days = total_seconds / 86_400;
    let hours = total_seconds % 86_400 / 3_600;
    let minutes = total_seconds % 3_600 / 60;
    let seconds = total_seconds % 60;
    let mut out = String::from("P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if hours > 0 || minutes > 0 || seconds > 0 || subsecond > 0 || days == 0 {
        out.push('T');
        if hours > 0 {
            out.push_str(&format!("{hours}H"));
        }
        if minutes > 0 {
            out.push_str(&format!("{minutes}M"));
        }
        if seconds > 0 || subsecond > 0 || (hours == 0 && minutes == 0) {
            out.push_str(&seconds.to_string());
            if subsecond > 0 {
                let fraction = format!("{subsecond:09}");
                out.push('.');
                out.push_str(fraction.trim_end_matches('0'));
            }
            out.push('S');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Duration {
        parse_duration(text).expect(text)
    }

    fn refusal(text: &str) -> String {
        match parse_duration(text) {
            Err(SpecError::BadDuration { reason, .. }) => reason,
            other => panic!("{text}: expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn common_durations_parse() {
        assert_eq!(parsed("PT30S"), Duration::seconds(30));
        assert_eq!(parsed("PT5M"), Duration::minutes(5));
        assert_eq!(parsed("PT1H30M"), Duration::minutes(90));
        assert_eq!(parsed("P1D"), Duration::hours(24));
        assert_eq!(parsed("P1W"), Duration::days(7));
        assert_eq!(parsed("P1DT12H"), Duration::hours(36));
        assert_eq!(parsed("PT0.5S"), Duration::milliseconds(500));
        assert_eq!(parsed("PT1,25S"), Duration::milliseconds(1250));
        assert_eq!(parsed("pt90m"), Duration::minutes(90));
        assert_eq!(parsed("PT1M0S"), Duration::minutes(1));
    }

    #[test]
    fn zero_is_allowed_negative_is_refused() {
        assert_eq!(parsed("PT0S"), Duration::zero());
        assert_eq!(parsed("P0D"), Duration::zero());
        assert!(refusal("PT-5S").contains("unexpected `-`"));
        assert!(refusal("-PT5S").contains("start with `P`"));
    }

    #[test]
    fn calendar_units_are_refused_with_advice() {
        assert!(refusal("P1M").contains("years and months"));
        assert!(refusal("P1Y").contains("years and months"));
    }

    #[test]
    fn malformed_durations_are_refused() {
        for text in [
            "",
            "P",
            "PT",
            "30S",
            "PT30",
            "P1H",
            "PT5M1H",
            "PT1.5M",
            "PTS",
            "PT1.S",
            "PT1.2.3S",
            "PT1.0000000001S",
            "P1DT",
            "PT99999999999999999999S",
        ] {
            assert!(parse_duration(text).is_err(), "{text:?} was accepted");
        }
        assert!(refusal("P1H").contains("after `T`"));
        assert!(refusal("PT1.5M").contains("only seconds"));
    }

    #[test]
    fn canonical_spelling_round_trips() {
        for (text, canonical) in [
            ("PT90M", "PT1H30M"),
            ("P1D", "P1D"),
            ("PT36H", "P1DT12H"),
            ("PT0.5S", "PT0.5S"),
            ("PT60S", "PT1M"),
            ("P1DT0.001S", "P1DT0.001S"),
            ("PT0S", "PT0S"),
        ] {
            let duration = parsed(text);
            assert_eq!(format_duration(duration), canonical);
            assert_eq!(parsed(canonical), duration);
        }
    }
}
