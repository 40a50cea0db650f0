//! Unit tests of `submission.rs`: validation, delays and `run_at`, idempotency keys.

use chrono::TimeDelta;
use serde_json::json;

use super::*;

fn submission(task_type: &str, payload: Value) -> Submission {
    Submission {
        task_type: task_type.into(),
        payload,
        priority: None,
        max_attempts: None,
        timeout_ms: None,
        labels: BTreeMap::new(),
        run_at: None,
        delay_ms: None,
    }
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-10T12:00:00.250Z")
        .expect("time")
        .with_timezone(&Utc)
}

fn pointers(refused: Result<ValidSubmission, SubmissionRefused>) -> Vec<String> {
    match refused {
        Err(SubmissionRefused::Invalid(problems)) => {
            problems.into_iter().map(|p| p.pointer).collect()
        }
        other => panic!("expected problems, got {other:?}"),
    }
}

fn delayed(run_at: Option<&str>, delay_ms: Option<i64>) -> Submission {
    Submission {
        run_at: run_at.map(str::to_owned),
        delay_ms,
        ..submission("noop", json!({}))
    }
}

fn check(s: Submission) -> Result<ValidSubmission, SubmissionRefused> {
    validate(s, &catalog(), &Policy::default(), None, now())
}

#[test]
fn a_delay_resolves_to_an_instant_after_now() {
    let valid = check(delayed(None, Some(1500))).expect("valid");
    assert_eq!(
        valid.run_at,
        Some(now() + TimeDelta::milliseconds(1500)),
        "now + delay"
    );
    let created = task_created(
        &valid,
        EventMeta::new(0, "c", Uuid::nil(), "p"),
        Uuid::nil(),
        None,
    );
    assert_eq!(
        created.run_at,
        Some(now().timestamp_millis() + 1500),
        "carried in TaskCreated"
    );
    assert_eq!(
        check(delayed(None, Some(0))).expect("valid").run_at,
        Some(now())
    );
    let max = check(delayed(None, Some(MAX_DELAY_MS))).expect("365 days is allowed");
    assert_eq!(
        max.run_at,
        Some(now() + TimeDelta::milliseconds(MAX_DELAY_MS))
    );
    assert_eq!(
        check(submission("noop", json!({}))).expect("valid").run_at,
        None
    );
}

#[test]
fn a_delay_outside_zero_to_365_days_is_refused() {
    for bad in [-1, MAX_DELAY_MS + 1, i64::MAX, i64::MIN] {
        assert_eq!(
            pointers(check(delayed(None, Some(bad)))),
            ["/delay_ms"],
            "{bad}"
        );
    }
}

#[test]
fn run_at_is_taken_as_sent_within_its_window() {
    let at = |s: &str| check(delayed(Some(s), None)).map(|v| v.run_at);
    let parsed = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    };
    // Offsets are honoured; sub-millisecond digits dropped (the contract holds milliseconds).
    assert_eq!(
        at("2026-12-10T13:30:00.123456+01:00").expect("valid"),
        Some(parsed("2026-12-10T12:30:00.123Z"))
    );
    // Up to 60 s in the past is clock skew: accepted (due at once).
    assert_eq!(
        at("2026-12-10T11:59:00.250Z").expect("valid"),
        Some(parsed("2026-12-10T11:59:00.250Z"))
    );
    assert!(
        at("2027-12-10T12:00:00.250Z").is_ok(),
        "exactly 365 days ahead"
    );
}

#[test]
fn run_at_too_far_ahead_too_far_back_or_unreadable_is_refused() {
    for bad in [
        "2027-12-10T12:00:00.251Z",
        "2026-12-10T11:59:00.249Z",
        "1970-01-01T00:00:00Z",
        "tomorrow",
        "2026-12-10 12:00:00",
    ] {
        assert_eq!(
            pointers(check(delayed(Some(bad), None))),
            ["/run_at"],
            "{bad}"
        );
    }
    let Err(SubmissionRefused::Invalid(problems)) =
        check(delayed(Some("2026-12-10T11:00:00Z"), None))
    else {
        panic!("expected problems");
    };
    assert!(
        problems[0].message.contains("clock skew"),
        "{}",
        problems[0].message
    );
}

#[test]
fn run_at_and_delay_together_are_refused_at_both_pointers_with_the_other_problems() {
    let mut s = delayed(Some("2026-12-10T12:00:05Z"), Some(5000));
    s.max_attempts = Some(0);
    assert_eq!(
        pointers(check(s)),
        ["/max_attempts", "/run_at", "/delay_ms"]
    );
}

fn catalog() -> TaskCatalog {
    TaskCatalog::load().expect("catalog")
}

#[test]
fn defaults_fill_what_the_client_left_out() {
    let valid = validate(
        submission("noop", json!({})),
        &catalog(),
        &Policy::default(),
        None,
        now(),
    )
    .expect("valid");
    assert_eq!(valid.priority, Priority::Normal);
    assert_eq!(valid.max_attempts, 3);
    assert_eq!(valid.timeout_ms, 30_000);
}

#[test]
fn every_problem_is_reported_at_once_with_its_location() {
    let mut s = submission("sleep", json!({"duration_ms": "long"}));
    s.priority = Some("urgent".into());
    s.max_attempts = Some(0);
    s.timeout_ms = Some(5);
    s.labels.insert("bad key!".into(), "v".into());
    let Err(SubmissionRefused::Invalid(problems)) =
        validate(s, &catalog(), &Policy::default(), None, now())
    else {
        panic!("expected problems");
    };
    let pointers: Vec<_> = problems.iter().map(|p| p.pointer.as_str()).collect();
    assert_eq!(
        pointers,
        [
            "/payload/duration_ms",
            "/priority",
            "/max_attempts",
            "/timeout_ms",
            "/labels/bad key!"
        ]
    );
}

#[test]
fn unknown_types_and_forbidden_priorities_are_refused() {
    let refused = validate(
        submission("teleport", json!({})),
        &catalog(),
        &Policy::default(),
        None,
        now(),
    );
    assert!(matches!(
        refused,
        Err(SubmissionRefused::UnknownType { .. })
    ));
    let mut s = submission("noop", json!({}));
    s.priority = Some("critical".into());
    let refused = validate(
        s,
        &catalog(),
        &Policy::default(),
        Some(&[Priority::Low, Priority::Normal]),
        now(),
    );
    assert!(matches!(
        refused,
        Err(SubmissionRefused::PriorityNotAllowed { .. })
    ));
}

#[test]
fn nul_anywhere_is_refused_at_its_pointer() {
    let mut s = submission("fail", json!({"message": "x\u{0}y", "retryable": false}));
    s.labels.insert("a".into(), "x\u{0}y".into());
    s.labels.insert("a/b".into(), "ok".into());
    let Err(SubmissionRefused::Invalid(problems)) =
        validate(s, &catalog(), &Policy::default(), None, now())
    else {
        panic!("expected problems");
    };
    let pointers: Vec<_> = problems.iter().map(|p| p.pointer.as_str()).collect();
    assert_eq!(pointers, ["/payload/message", "/labels/a"]);

    let s = submission("no\u{0}op", json!({"k": "v\u{0}"}));
    let Err(SubmissionRefused::Invalid(problems)) =
        validate(s, &catalog(), &Policy::default(), None, now())
    else {
        panic!("expected problems");
    };
    let pointers: Vec<_> = problems.iter().map(|p| p.pointer.as_str()).collect();
    assert_eq!(pointers, ["/type", "/payload/k"]);
}

#[test]
fn idempotency_keys_are_printable_ascii_without_edge_spaces() {
    for good in ["a", "order-42", "a b", &"k".repeat(255), "~!"] {
        assert!(valid_idempotency_key(good), "{good:?}");
    }
    for bad in ["", " a", "a ", "x\u{0}", "tab\t", "é", &"k".repeat(256)] {
        assert!(!valid_idempotency_key(bad), "{bad:?}");
    }
}

#[test]
fn label_values_are_bounded_in_characters_not_bytes() {
    let mut s = submission("noop", json!({}));
    s.labels.insert("k".into(), "é".repeat(256));
    assert!(validate(s.clone(), &catalog(), &Policy::default(), None, now()).is_ok());
    s.labels.insert("k".into(), "é".repeat(257));
    assert!(validate(s, &catalog(), &Policy::default(), None, now()).is_err());
}
