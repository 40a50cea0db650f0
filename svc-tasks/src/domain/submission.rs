//! Business validation of a submission, and the TaskCreated it turns into.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use taskflow_schemas::{EventMeta, Priority, TaskCreated};
use uuid::Uuid;

use crate::domain::catalog::{PayloadProblem, TaskCatalog};
use crate::domain::text::{NUL_MESSAGE, pointer_token, storable, unstorable_in};

pub use crate::domain::run_at::{MAX_DELAY_MS, RUN_AT_PAST_TOLERANCE_MS, resolve_run_at};

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
#[path = "submission_tests.rs"]
mod tests;
