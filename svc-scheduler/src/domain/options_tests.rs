use super::*;
use crate::domain::spec::SpecInput;
use crate::domain::test_time::{cron, utc};

fn hourly() -> Spec {
    Spec::Every(Duration::hours(1))
}

fn window(start_at: Option<&str>, end_at: Option<&str>) -> Window {
    Window {
        start_at: start_at.map(utc),
        end_at: end_at.map(utc),
    }
}

#[test]
fn window_bounds_are_inclusive() {
    let anchor = utc("2026-11-27T00:00:00Z");
    let window = window(Some("2026-11-27T05:00:00Z"), Some("2026-11-27T07:00:00Z"));
    let all = occurrences(
        &hourly(),
        &window,
        anchor,
        anchor,
        utc("2026-11-28T00:00:00Z"),
        100,
    );
    assert_eq!(
        all,
        [
            utc("2026-11-27T05:00:00Z"),
            utc("2026-11-27T06:00:00Z"),
            utc("2026-11-27T07:00:00Z"),
        ]
    );
    assert_eq!(
        next_in_window(&hourly(), &window, anchor, utc("2026-11-27T07:00:00Z")),
        None
    );
}

#[test]
fn occurrences_are_from_exclusive_to_inclusive_and_limited() {
    let anchor = utc("2026-11-27T00:00:00Z");
    let from = utc("2026-11-27T01:00:00Z");
    let to = utc("2026-11-27T04:00:00Z");
    let all = occurrences(&hourly(), &Window::default(), anchor, from, to, 100);
    assert_eq!(all.first(), Some(&utc("2026-11-27T02:00:00Z")));
    assert_eq!(all.last(), Some(&to));
    assert_eq!(all.len(), 3);
    assert_eq!(
        occurrences(&hourly(), &Window::default(), anchor, from, to, 2).len(),
        2
    );
}

#[test]
fn a_valid_schedule_passes() {
    let now = utc("2026-11-27T12:00:00Z");
    let spec = cron("0 9 * * MON-FRI", "Europe/Berlin");
    assert_eq!(validate(&spec, &Window::default(), now, now, 1.0), Ok(()));
}

#[test]
fn end_before_start_is_refused() {
    let now = utc("2026-11-27T12:00:00Z");
    let window = window(Some("2026-12-02T00:00:00Z"), Some("2026-12-01T00:00:00Z"));
    let error = validate(&hourly(), &window, now, now, 1.0).expect_err("refused");
    assert!(matches!(error, SpecError::EndBeforeStart { .. }));
    assert!(error.to_string().contains("end_at"));
}

#[test]
fn a_schedule_that_never_fires_is_refused() {
    let now = utc("2026-11-27T12:00:00Z");
    let never = |spec: &Spec, window: &Window| {
        validate(spec, window, now, now, 1.0) == Err(SpecError::NeverFires { now })
    };
    assert!(never(
        &Spec::At(utc("2026-11-27T11:00:00Z")),
        &Window::default()
    ));
    assert!(never(&cron("0 0 30 2 *", "UTC"), &Window::default()));
    // The window ends before the next 09:00.
    let closed = window(None, Some("2026-11-27T20:00:00Z"));
    assert!(never(&cron("0 9 * * *", "UTC"), &closed));
    // The one-off is outside its window.
    let later = window(Some("2026-12-02T00:00:00Z"), None);
    assert!(never(&Spec::At(utc("2026-12-01T09:00:00Z")), &later));
    assert!(!never(
        &Spec::At(utc("2026-12-01T09:00:00Z")),
        &Window::default()
    ));
}

#[test]
fn more_than_the_allowed_rate_is_refused() {
    let now = utc("2026-11-27T12:00:00Z");
    let check = |spec: &Spec, max: f64| validate(spec, &Window::default(), now, now, max);
    let twice_a_second = Spec::Every(Duration::milliseconds(500));
    match check(&twice_a_second, 1.0) {
        Err(SpecError::TooFrequent { per_second, .. }) => assert_eq!(per_second, 2.0),
        other => panic!("{other:?}"),
    }
    let message = check(&twice_a_second, 1.0)
        .expect_err("refused")
        .to_string();
    assert!(message.contains("at most 1 per second"), "{message}");
    assert_eq!(check(&Spec::Every(Duration::seconds(1)), 1.0), Ok(()));
    assert_eq!(check(&twice_a_second, 2.0), Ok(()));
}

#[test]
fn cron_every_second_is_exactly_the_limit_of_one() {
    let now = utc("2026-11-27T12:00:00Z");
    let check = |spec: &Spec, max: f64| validate(spec, &Window::default(), now, now, max);
    assert_eq!(check(&cron("* * * * * *", "UTC"), 1.0), Ok(()));
    assert!(matches!(
        check(&cron("* * * * * *", "UTC"), 0.5),
        Err(SpecError::TooFrequent { .. })
    ));
    assert_eq!(check(&cron("*/2 * * * * *", "UTC"), 0.5), Ok(()));
    // Its closest pair (Dec 31 23:59:59, Jan 1 00:00:00) comes 17 fires after now, not among
    // the next few; other gaps are 59 s or more.
    let new_year = cron("0,59 0,59 0,23 1,31 1,12 *", "UTC");
    assert!(matches!(
        check(&new_year, 0.5),
        Err(SpecError::TooFrequent { .. })
    ));
    assert_eq!(check(&new_year, 1.0), Ok(()));
}

#[test]
fn window_and_parse_compose_for_an_every_schedule_anchored_at_start() {
    let spec = Spec::parse(&SpecInput {
        every: Some("PT30S".into()),
        ..SpecInput::default()
    })
    .expect("valid");
    let start_at = utc("2026-11-27T12:00:10Z");
    let window = window(Some("2026-11-27T12:00:10Z"), None);
    let now = utc("2026-11-27T12:00:00Z");
    assert_eq!(
        occurrences(
            &spec,
            &window,
            start_at,
            now,
            utc("2026-11-27T12:01:10Z"),
            10
        ),
        [
            start_at,
            utc("2026-11-27T12:00:40Z"),
            utc("2026-11-27T12:01:10Z"),
        ]
    );
}

#[test]
fn extreme_instants_do_not_panic() {
    let (min, max) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
    let berlin = cron("30 2 * * *", "Europe/Berlin");
    assert_eq!(berlin.next_after(max, min), None);
    assert_eq!(hourly().next_after(max, min), None);
    let open_start = window(None, None);
    let from_the_start = Window {
        start_at: Some(min),
        ..open_start
    };
    assert!(next_in_window(&hourly(), &from_the_start, min, min).is_some());
    assert!(berlin.next_after(min, min).is_some());
}
