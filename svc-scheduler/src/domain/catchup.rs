//! After downtime: which overdue occurrences still fire.

use chrono::{DateTime, Duration, Utc};

/// The fate of an occurrence that is due (its nominal time has passed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Fire it (subject to the overlap policy).
    Fire,
    /// Record it as missed: older than the catch-up window.
    Missed,
}

/// An occurrence whose nominal time is older than `now - catchup_window` is `Missed`;
/// otherwise (the boundary included) `Fire`. Each occurrence is classified once, so after
/// downtime the ones inside the window fire once each.
pub fn classify(nominal: DateTime<Utc>, now: DateTime<Utc>, catchup_window: Duration) -> Due {
    if now - nominal > catchup_window {
        Due::Missed
    } else {
        Due::Fire
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::options::{Window, occurrences};
    use crate::domain::spec::{Spec, SpecInput};
    use crate::domain::test_time::utc;

    #[test]
    fn inside_the_window_fires_older_is_missed() {
        let now = utc("2026-11-27T12:00:00Z");
        let window = Duration::minutes(10);
        assert_eq!(classify(now, now, window), Due::Fire);
        assert_eq!(
            classify(utc("2026-11-27T11:55:00Z"), now, window),
            Due::Fire
        );
        assert_eq!(
            classify(utc("2026-11-27T11:50:00Z"), now, window),
            Due::Fire
        );
        assert_eq!(
            classify(utc("2026-11-27T11:49:59Z"), now, window),
            Due::Missed
        );
        assert_eq!(
            classify(utc("2026-11-27T03:00:00Z"), now, window),
            Due::Missed
        );
    }

    #[test]
    fn zero_window_fires_only_what_is_due_now() {
        let now = utc("2026-11-27T12:00:00Z");
        assert_eq!(classify(now, now, Duration::zero()), Due::Fire);
        assert_eq!(
            classify(now - Duration::milliseconds(1), now, Duration::zero()),
            Due::Missed
        );
    }

    #[test]
    fn after_two_hours_down_recent_occurrences_fire_once_each_and_older_are_missed() {
        let spec = Spec::parse(&SpecInput {
            cron: Some("*/30 * * * *".into()),
            ..SpecInput::default()
        })
        .expect("valid");
        let last_fired = utc("2026-11-27T10:00:00Z");
        let now = utc("2026-11-27T12:10:00Z");
        let due = occurrences(&spec, &Window::default(), last_fired, last_fired, now, 100);
        let fates: Vec<_> = due
            .iter()
            .map(|nominal| {
                (
                    nominal.to_rfc3339(),
                    classify(*nominal, now, Duration::minutes(45)),
                )
            })
            .collect();
        assert_eq!(
            fates,
            [
                ("2026-11-27T10:30:00+00:00".to_owned(), Due::Missed),
                ("2026-11-27T11:00:00+00:00".to_owned(), Due::Missed),
                ("2026-11-27T11:30:00+00:00".to_owned(), Due::Fire),
                ("2026-11-27T12:00:00+00:00".to_owned(), Due::Fire),
            ]
        );
    }
}
