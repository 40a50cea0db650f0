//! Business validation of a submission, and the TaskCreated it turns into.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use taskflow_schemas::{EventMeta, Priority, TaskCreated};
use uuid::Uuid;

use crate::domain::catalog::{PayloadProblem, TaskCatalog};
use crate::domain::text::{NUL_MESSAGE, pointer_token, storable, unstorable_in};

/// A submission as the client sent it, already known to be well-formed JSON of the right shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub task_type: String,
    pub payload: Value,
    pub priority: Option<String>,
    pub max_attempts: Option<i32>,
    pub timeout_ms: Option<i64>,
    pub labels: BTreeMap<String, String>,
    /// When to run, as sent (RFC 3339); `None`: as soon as possible.
    pub run_at: Option<String>,
    /// Or: how long after submission to run, in milliseconds.
    pub delay_ms: Option<i64>,
}

/// Longest delay (and farthest `run_at`) of a delayed task: 365 days, in milliseconds.
pub const MAX_DELAY_MS: i64 = 31_536_000_000;
/// How far in the past a `run_at` may lie (clients' clocks are not ours): such a task is due
/// at once. Further back is more likely a mistake than skew, and is refused.
pub const RUN_AT_PAST_TOLERANCE_MS: i64 = 60_000;

/// Defaults and bounds, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub default_max_attempts: i32,
    pub max_attempts_limit: i32,
    pub default_timeout_ms: i64,
    pub min_timeout_ms: i64,
    pub max_timeout_ms: i64,
    pub max_labels: usize,
    /// Characters (not bytes) of a label value.
    pub max_label_value_chars: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            default_max_attempts: 3,
            max_attempts_limit: 25,
            default_timeout_ms: 30_000,
            min_timeout_ms: 100,
            max_timeout_ms: 3_600_000,
            max_labels: 20,
            max_label_value_chars: 256,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidSubmission {
    pub task_type: String,
    pub payload: Value,
    pub priority: Priority,
    pub max_attempts: i32,
    pub timeout_ms: i64,
    pub labels: BTreeMap<String, String>,
    /// The instant the task is due (milliseconds precision), resolved at submission.
    pub run_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmissionRefused {
    #[error("task type {task_type:?} is not in the catalogue (known: {})", known.join(", "))]
    UnknownType {
        task_type: String,
        known: Vec<String>,
    },
    #[error("priority {priority} is not allowed for this tenant (allowed: {})", allowed.join(", "))]
    PriorityNotAllowed {
        priority: String,
        allowed: Vec<String>,
    },
    #[error("{} problem(s) in the submission", .0.len())]
    Invalid(Vec<PayloadProblem>),
}

/// The API name of `priority` (the vocabulary lives in taskflow-schemas).
pub fn priority_name(priority: Priority) -> &'static str {
    priority.as_str()
}

pub fn parse_priority(name: &str) -> Option<Priority> {
    Priority::parse(name)
}

/// Longest Idempotency-Key, in characters.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// An Idempotency-Key (header or batch item): 1-255 printable ASCII characters (space allowed,
/// but not first or last, where HTTP would strip it). The OpenAPI document states the same rule
/// as `^[!-~]([ -~]{0,253}[!-~])?$`.
pub fn valid_idempotency_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    let printable = |b: &u8| (b' '..=b'~').contains(b);
    !bytes.is_empty()
        && bytes.len() <= MAX_IDEMPOTENCY_KEY
        && bytes.iter().all(printable)
        && bytes.first() != Some(&b' ')
        && bytes.last() != Some(&b' ')
}

/// The instant a delayed submission is due, resolved against `now`, or the problems with its
/// `run_at` / `delay_ms` as (pointer, message).
pub fn resolve_run_at(
    run_at: Option<&str>,
    delay_ms: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, Vec<(&'static str, String)>> {
    let both = "give run_at or delay_ms, not both".to_owned();
    match (run_at, delay_ms) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(vec![("/run_at", both.clone()), ("/delay_ms", both)]),
        (None, Some(delay)) => {
            if !(0..=MAX_DELAY_MS).contains(&delay) {
                return Err(vec![(
                    "/delay_ms",
                    format!("{delay} is outside 0..={MAX_DELAY_MS} (365 days)"),
                )]);
            }
            Ok(Some(whole_millis(now) + TimeDelta::milliseconds(delay)))
        }
        (Some(text), None) => {
            let at = DateTime::parse_from_rfc3339(text)
                .map_err(|e| vec![("/run_at", format!("{text:?} is not an RFC 3339 time: {e}"))])?
                .with_timezone(&Utc);
            let at = whole_millis(at);
            let ahead = (at - now).num_milliseconds();
            if ahead > MAX_DELAY_MS {
                return Err(vec![("/run_at", "is more than 365 days ahead".to_owned())]);
            }
            if ahead < -RUN_AT_PAST_TOLERANCE_MS {
                return Err(vec![(
                    "/run_at",
                    format!(
                        "is more than {} s in the past (up to {} s is tolerated as clock skew, and runs at once)",
                        RUN_AT_PAST_TOLERANCE_MS / 1000,
                        RUN_AT_PAST_TOLERANCE_MS / 1000
                    ),
                )]);
            }
            Ok(Some(at))
        }
    }
}

/// `at` without its sub-millisecond part: the contract carries milliseconds.
fn whole_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}

/// Checks everything about `submission` that does not need the database; `now` resolves a
/// delay and bounds `run_at`.
pub fn validate(
    submission: Submission,
    catalog: &TaskCatalog,
    policy: &Policy,
    allowed_priorities: Option<&[Priority]>,
    now: DateTime<Utc>,
) -> Result<ValidSubmission, SubmissionRefused> {
    if !storable(&submission.task_type) {
        let mut problems = vec![PayloadProblem {
            pointer: "/type".into(),
            message: NUL_MESSAGE.into(),
        }];
        problems.extend(unstorable_in(&submission.payload, "/payload"));
        return Err(SubmissionRefused::Invalid(problems));
    }
    let Some(mut problems) = catalog.check(&submission.task_type, &submission.payload) else {
        return Err(SubmissionRefused::UnknownType {
            task_type: submission.task_type,
            known: catalog.type_names().map(str::to_owned).collect(),
        });
    };
    // The type's schema may accept a string the database cannot store (say, a `fail` message).
    problems.extend(unstorable_in(&submission.payload, "/payload"));
    let mut problem = |pointer: &str, message: String| {
        problems.push(PayloadProblem {
            pointer: pointer.to_owned(),
            message,
        })
    };
    let priority = match submission.priority.as_deref() {
        None => Some(Priority::Normal),
        Some(name) => {
            let parsed = parse_priority(name);
            if parsed.is_none() {
                problem(
                    "/priority",
                    format!("{name:?} is not one of low, normal, high, critical"),
                );
            }
            parsed
        }
    };
    let max_attempts = submission
        .max_attempts
        .unwrap_or(policy.default_max_attempts);
    if !(1..=policy.max_attempts_limit).contains(&max_attempts) {
        problem(
            "/max_attempts",
            format!(
                "{max_attempts} is outside 1..={}",
                policy.max_attempts_limit
            ),
        );
    }
    let timeout_ms = submission.timeout_ms.unwrap_or(policy.default_timeout_ms);
    if !(policy.min_timeout_ms..=policy.max_timeout_ms).contains(&timeout_ms) {
        problem(
            "/timeout_ms",
            format!(
                "{timeout_ms} is outside {}..={}",
                policy.min_timeout_ms, policy.max_timeout_ms
            ),
        );
    }
    if submission.labels.len() > policy.max_labels {
        problem(
            "/labels",
            format!(
                "{} labels, at most {} allowed",
                submission.labels.len(),
                policy.max_labels
            ),
        );
    }
    for (key, value) in &submission.labels {
        let at = format!("/labels/{}", pointer_token(key));
        let key_ok = !key.is_empty()
            && key.len() <= 63
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
        if !key_ok {
            problem(
                &at,
                "label keys are 1-63 characters of [A-Za-z0-9-_./]".into(),
            );
        }
        if value.chars().count() > policy.max_label_value_chars {
            problem(
                &at,
                format!(
                    "label values are at most {} characters",
                    policy.max_label_value_chars
                ),
            );
        }
        if !storable(value) {
            problem(&at, NUL_MESSAGE.into());
        }
    }
    let run_at = resolve_run_at(submission.run_at.as_deref(), submission.delay_ms, now)
        .unwrap_or_else(|run_at_problems| {
            for (pointer, message) in run_at_problems {
                problem(pointer, message);
            }
            None
        });
    if !problems.is_empty() {
        return Err(SubmissionRefused::Invalid(problems));
    }
    let priority = priority.unwrap_or(Priority::Normal);
    if let Some(allowed) = allowed_priorities
        && !allowed.contains(&priority)
    {
        return Err(SubmissionRefused::PriorityNotAllowed {
            priority: priority_name(priority).into(),
            allowed: allowed.iter().map(|p| priority_name(*p).into()).collect(),
        });
    }
    Ok(ValidSubmission {
        task_type: submission.task_type,
        payload: submission.payload,
        priority,
        max_attempts,
        timeout_ms,
        labels: submission.labels,
        run_at,
    })
}

/// The event that records an accepted submission.
pub fn task_created(
    valid: &ValidSubmission,
    meta: EventMeta,
    task_id: Uuid,
    idempotency_key: Option<String>,
) -> TaskCreated {
    TaskCreated {
        meta,
        task_id,
        task_type: valid.task_type.clone(),
        priority: valid.priority,
        payload_json: valid.payload.to_string(),
        max_attempts: valid.max_attempts,
        timeout_ms: valid.timeout_ms,
        labels: valid.labels.clone(),
        idempotency_key,
        schedule_id: None,
        run_at: valid.run_at.map(|at| at.timestamp_millis()),
    }
}

#[cfg(test)]
mod tests {
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
}
