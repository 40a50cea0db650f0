//! DST rules of cron schedules (see `wall_clock`), for Europe/Berlin and America/New_York in
//! 2026. Berlin: 2026-03-29 02:00 CET -> 03:00 CEST (01:00 UTC), 2026-10-25 03:00 CEST ->
//! 02:00 CET (01:00 UTC). New York: 2026-03-08 02:00 EST -> 03:00 EDT (07:00 UTC), 2026-11-01
//! 02:00 EDT -> 01:00 EST (06:00 UTC).

use std::str::FromStr;

use super::test_time::{cron, fires, utc};

#[test]
fn the_cron_crate_alone_skips_a_time_that_does_not_exist() {
    // Why wall_clock corrects it: this schedule would silently not run on 2026-03-29.
    let schedule = cron::Schedule::from_str("0 30 2 * * *").expect("valid");
    let after = utc("2026-03-28T02:00:00Z").with_timezone(&chrono_tz::Europe::Berlin);
    let next = schedule.after(&after).next().expect("fires").to_utc();
    assert_eq!(next, utc("2026-03-30T00:30:00Z"));
}

#[test]
fn berlin_spring_forward_fires_once_at_three() {
    let spec = cron("30 2 * * *", "Europe/Berlin");
    assert_eq!(
        fires(&spec, "2026-03-28T00:00:00Z", "2026-03-31T00:00:00Z"),
        [
            "2026-03-28T01:30:00Z", // 02:30 CET
            "2026-03-29T01:00:00Z", // 02:30 does not exist: 03:00 CEST, the gap's end
            "2026-03-30T00:30:00Z", // 02:30 CEST
        ]
    );
}

#[test]
fn berlin_times_inside_the_gap_fire_once_together() {
    let spec = cron("*/15 2 * * *", "Europe/Berlin");
    assert_eq!(
        fires(&spec, "2026-03-28T20:00:00Z", "2026-03-29T20:00:00Z"),
        ["2026-03-29T01:00:00Z"]
    );
}

#[test]
fn berlin_fall_back_fires_once() {
    let spec = cron("30 2 * * *", "Europe/Berlin");
    assert_eq!(
        fires(&spec, "2026-10-24T00:00:00Z", "2026-10-27T00:00:00Z"),
        [
            "2026-10-24T00:30:00Z", // 02:30 CEST
            "2026-10-25T00:30:00Z", // 02:30 CEST, first pass; not again at 02:30 CET
            "2026-10-26T01:30:00Z", // 02:30 CET
        ]
    );
}

#[test]
fn berlin_fall_back_asked_during_the_second_pass_waits_for_tomorrow() {
    let spec = cron("30 2 * * *", "Europe/Berlin");
    let anchor = utc("2026-01-01T00:00:00Z");
    // 02:10 CET, second pass: 02:30 of today already fired in the first pass.
    let next = spec.next_after(utc("2026-10-25T01:10:00Z"), anchor);
    assert_eq!(next, Some(utc("2026-10-26T01:30:00Z")));
}

#[test]
fn new_york_spring_forward_fires_once_at_three() {
    let spec = cron("30 2 * * *", "America/New_York");
    assert_eq!(
        fires(&spec, "2026-03-07T00:00:00Z", "2026-03-10T00:00:00Z"),
        [
            "2026-03-07T07:30:00Z", // 02:30 EST
            "2026-03-08T07:00:00Z", // 02:30 does not exist: 03:00 EDT
            "2026-03-09T06:30:00Z", // 02:30 EDT
        ]
    );
}

#[test]
fn new_york_fall_back_fires_once() {
    // New York repeats 01:00-01:59.
    let spec = cron("30 1 * * *", "America/New_York");
    assert_eq!(
        fires(&spec, "2026-10-31T00:00:00Z", "2026-11-03T00:00:00Z"),
        [
            "2026-10-31T05:30:00Z", // 01:30 EDT
            "2026-11-01T05:30:00Z", // 01:30 EDT, first pass; not again at 01:30 EST
            "2026-11-02T06:30:00Z", // 01:30 EST
        ]
    );
    let spec = cron("30 2 * * *", "America/New_York");
    assert_eq!(
        fires(&spec, "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"),
        ["2026-11-01T07:30:00Z"]
    );
}

#[test]
fn every_hour_schedule_fires_in_both_passes_of_the_repeated_hour() {
    let spec = cron("0 * * * *", "Europe/Berlin");
    assert_eq!(
        fires(&spec, "2026-10-24T22:30:00Z", "2026-10-25T02:30:00Z"),
        [
            "2026-10-24T23:00:00Z", // 01:00 CEST
            "2026-10-25T00:00:00Z", // 02:00 CEST
            "2026-10-25T01:00:00Z", // 02:00 CET
            "2026-10-25T02:00:00Z", // 03:00 CET
        ]
    );
}

#[test]
fn every_hour_schedule_skips_times_that_do_not_exist() {
    let spec = cron("30 * * * *", "America/New_York");
    assert_eq!(
        fires(&spec, "2026-03-08T05:00:00Z", "2026-03-08T09:00:00Z"),
        [
            "2026-03-08T05:30:00Z", // 00:30 EST
            "2026-03-08T06:30:00Z", // 01:30 EST
            "2026-03-08T07:30:00Z", // 03:30 EDT; 02:30 does not exist
            "2026-03-08T08:30:00Z", // 04:30 EDT
        ]
    );
}

#[test]
fn every_second_schedule_keeps_ticking_across_fall_back() {
    let spec = cron("* * * * * *", "Europe/Berlin");
    assert_eq!(
        fires(&spec, "2026-10-25T00:59:58Z", "2026-10-25T01:00:02Z"),
        [
            "2026-10-25T00:59:59Z",
            "2026-10-25T01:00:00Z", // 02:00:00 CET, wall clock went back an hour
            "2026-10-25T01:00:01Z",
            "2026-10-25T01:00:02Z",
        ]
    );
}
