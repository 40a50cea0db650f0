use chrono::{Datelike, Duration, Timelike, Weekday};

use super::*;
use crate::domain::test_time::{cron, fires, utc};

fn refusal(input: SpecInput) -> SpecError {
    Spec::parse(&input).expect_err("refused")
}

fn cron_input(expression: &str) -> SpecInput {
    SpecInput {
        cron: Some(expression.into()),
        ..SpecInput::default()
    }
}

#[test]
fn weekdays_at_nine_means_monday_to_friday_at_nine_local() {
    for expression in ["0 9 * * MON-FRI", "0 9 * * 1-5", "0 9 * * mon-fri"] {
        let spec = cron(expression, "Europe/Berlin");
        // 2026-11-22 is a Sunday; a week later is the next Sunday.
        let week = fires(&spec, "2026-11-22T00:00:00Z", "2026-11-29T23:59:59Z");
        assert_eq!(
            week,
            [
                "2026-11-23T08:00:00Z",
                "2026-11-24T08:00:00Z",
                "2026-11-25T08:00:00Z",
                "2026-11-26T08:00:00Z",
                "2026-11-27T08:00:00Z",
            ],
            "{expression}"
        );
        let monday = utc("2026-11-23T08:00:00Z").with_timezone(&chrono_tz::Europe::Berlin);
        assert_eq!((monday.weekday(), monday.hour()), (Weekday::Mon, 9));
    }
}

#[test]
fn sunday_is_both_0_and_7() {
    for expression in ["0 9 * * 0", "0 9 * * 7", "0 9 * * SUN"] {
        let spec = cron(expression, "UTC");
        assert_eq!(
            fires(&spec, "2026-11-22T00:00:00Z", "2026-12-05T00:00:00Z"),
            ["2026-11-22T09:00:00Z", "2026-11-29T09:00:00Z"],
            "{expression}"
        );
    }
}

#[test]
fn friday_to_sunday_range_ends_on_sunday() {
    let spec = cron("0 9 * * 5-7", "UTC");
    assert_eq!(
        fires(&spec, "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z"),
        [
            "2026-11-27T09:00:00Z",
            "2026-11-28T09:00:00Z",
            "2026-11-29T09:00:00Z"
        ]
    );
}

#[test]
fn day_of_month_or_day_of_week_when_both_are_restricted() {
    // Crontab: the 1st (a Tuesday) *or* any Monday.
    let spec = cron("0 9 1 * MON", "UTC");
    assert_eq!(
        fires(&spec, "2026-12-01T00:00:00Z", "2026-12-31T23:59:59Z"),
        [
            "2026-12-01T09:00:00Z",
            "2026-12-07T09:00:00Z",
            "2026-12-14T09:00:00Z",
            "2026-12-21T09:00:00Z",
            "2026-12-28T09:00:00Z",
        ]
    );
}

#[test]
fn every_five_minutes() {
    let spec = cron("*/5 * * * *", "Europe/Berlin");
    let hour = fires(&spec, "2026-11-27T10:00:00Z", "2026-11-27T11:00:00Z");
    assert_eq!(hour.len(), 12);
    assert_eq!(hour[0], "2026-11-27T10:05:00Z");
    assert_eq!(hour[11], "2026-11-27T11:00:00Z");
    let next = spec
        .next_after(utc("2026-11-27T10:07:30Z"), utc("2026-01-01T00:00:00Z"))
        .expect("fires");
    assert_eq!(next, utc("2026-11-27T10:10:00Z"));
}

#[test]
fn six_fields_put_seconds_first() {
    let spec = cron("*/10 * * * * *", "UTC");
    assert_eq!(
        fires(&spec, "2026-11-27T10:00:00Z", "2026-11-27T10:00:30Z"),
        [
            "2026-11-27T10:00:10Z",
            "2026-11-27T10:00:20Z",
            "2026-11-27T10:00:30Z"
        ]
    );
    let spec = cron("30 0 9 * * *", "UTC");
    assert_eq!(
        fires(&spec, "2026-11-27T00:00:00Z", "2026-11-28T00:00:00Z"),
        ["2026-11-27T09:00:30Z"]
    );
}

#[test]
fn named_months() {
    let spec = cron("0 0 1 JAN,JUL *", "UTC");
    assert_eq!(
        fires(&spec, "2026-12-31T00:00:00Z", "2027-12-31T00:00:00Z"),
        ["2027-01-01T00:00:00Z", "2027-07-01T00:00:00Z"]
    );
}

#[test]
fn shorthands_expand_to_crontab_lines() {
    let spec = cron("@weekly", "UTC");
    assert_eq!(
        fires(&spec, "2026-11-23T00:00:00Z", "2026-12-07T00:00:00Z"),
        ["2026-11-29T00:00:00Z", "2026-12-06T00:00:00Z"]
    );
}

#[test]
fn invalid_cron_expressions_are_refused() {
    for expression in [
        "",
        "* * * *",
        "* * * * * * *",
        "61 * * * *",
        "* 24 * * *",
        "* * 32 * *",
        "* * * 13 *",
        "0 9 * * 8",
        "0 9 * * FOO",
        "0 9 * * FRI-MON",
        "*/0 * * * *",
        "0 9 * FOO *",
        "@often",
        "every day",
    ] {
        match refusal(cron_input(expression)) {
            SpecError::BadCron {
                expression: echoed,
                reason,
            } => {
                assert_eq!(echoed, expression);
                assert!(!reason.is_empty());
            }
            other => panic!("{expression:?}: {other:?}"),
        }
    }
    let message = refusal(cron_input("* * * *")).to_string();
    assert!(message.contains("expected 5 fields"), "{message}");
}

#[test]
fn unknown_time_zones_are_refused() {
    for zone in ["Mars/Olympus", "europe/berlin", "CEST", ""] {
        let input = SpecInput {
            timezone: Some(zone.into()),
            ..cron_input("0 9 * * *")
        };
        assert_eq!(refusal(input), SpecError::UnknownTimezone(zone.into()));
    }
}

#[test]
fn zone_defaults_to_utc() {
    let spec = Spec::parse(&cron_input("0 9 * * *")).expect("valid");
    assert!(matches!(
        spec,
        Spec::Cron {
            timezone: chrono_tz::Tz::UTC,
            ..
        }
    ));
}

#[test]
fn exactly_one_kind_and_zone_only_with_cron() {
    assert_eq!(
        refusal(SpecInput::default()),
        SpecError::KindCount { given: 0 }
    );
    let both = SpecInput {
        every: Some("PT30S".into()),
        ..cron_input("* * * * *")
    };
    assert_eq!(refusal(both), SpecError::KindCount { given: 2 });
    let zoned_interval = SpecInput {
        every: Some("PT30S".into()),
        timezone: Some("Europe/Berlin".into()),
        ..SpecInput::default()
    };
    assert_eq!(refusal(zoned_interval), SpecError::TimezoneWithoutCron);
    let bad_interval = SpecInput {
        every: Some("30s".into()),
        ..SpecInput::default()
    };
    assert!(matches!(
        refusal(bad_interval),
        SpecError::BadDuration { .. }
    ));
}

#[test]
fn every_is_anchored_not_drifting() {
    let spec = Spec::Every(Duration::seconds(30));
    let anchor = utc("2026-11-27T09:00:07Z");
    let next = |after: &str| spec.next_after(utc(after), anchor).expect("fires");
    assert_eq!(next("2026-11-27T08:00:00Z"), anchor);
    assert_eq!(next("2026-11-27T09:00:07Z"), utc("2026-11-27T09:00:37Z"));
    assert_eq!(next("2026-11-27T10:00:00Z"), utc("2026-11-27T10:00:07Z"));
    assert_eq!(next("2026-11-27T10:00:07.5Z"), utc("2026-11-27T10:00:37Z"));
    assert_eq!(
        next("2026-11-27T10:00:36.999Z"),
        utc("2026-11-27T10:00:37Z")
    );
}

#[test]
fn at_fires_once_then_never() {
    let at = utc("2026-12-01T09:00:00Z");
    let spec = Spec::At(at);
    let anchor = utc("2026-11-27T00:00:00Z");
    assert_eq!(
        spec.next_after(utc("2026-11-27T12:00:00Z"), anchor),
        Some(at)
    );
    assert_eq!(spec.next_after(at, anchor), None);
    assert_eq!(spec.next_after(utc("2026-12-02T00:00:00Z"), anchor), None);
}

#[test]
fn api_form_round_trips() {
    let inputs = [
        r#"{"cron":"0 9 * * MON-FRI","timezone":"Europe/Berlin"}"#,
        r#"{"every":"PT1H30M"}"#,
        r#"{"at":"2026-12-01T09:00:00Z"}"#,
    ];
    for json in inputs {
        let input: SpecInput = serde_json::from_str(json).expect(json);
        let spec = Spec::parse(&input).expect(json);
        assert_eq!(spec.to_input(), input);
        assert_eq!(Spec::parse(&spec.to_input()).expect(json), spec);
        assert_eq!(serde_json::to_string(&spec.to_input()).expect(json), json);
    }
    let spec = Spec::parse(&SpecInput {
        every: Some("PT90M".into()),
        ..SpecInput::default()
    })
    .expect("valid");
    assert_eq!(spec.to_input().every.as_deref(), Some("PT1H30M"));
    let utc_default = Spec::parse(&cron_input("0 9 * * *")).expect("valid");
    assert_eq!(utc_default.to_input().timezone.as_deref(), Some("UTC"));
}

#[test]
fn at_with_an_offset_is_read_as_utc_and_unknown_fields_are_refused() {
    let input: SpecInput =
        serde_json::from_str(r#"{"at":"2026-12-01T10:00:00+01:00"}"#).expect("parses");
    assert_eq!(input.at, Some(utc("2026-12-01T09:00:00Z")));
    assert!(serde_json::from_str::<SpecInput>(r#"{"cron":"* * * * *","tz":"UTC"}"#).is_err());
}
