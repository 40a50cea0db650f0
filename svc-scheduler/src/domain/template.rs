//! The task a schedule starts, as the API takes it, checked at creation against the same
//! task-type catalogue svc-tasks uses (`schemas/tasks/*.json`), so a trigger never carries a
//! payload svc-tasks would refuse.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use taskflow_schemas::Priority;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskTemplate {
    #[serde(rename = "type")]
    pub task_type: String,
    #[serde(default = "empty_object")]
    pub payload: Value,
    #[serde(default = "normal")]
    pub priority: String,
    #[serde(default = "default_attempts", deserialize_with = "whole")]
    pub max_attempts: i32,
    #[serde(default = "default_timeout", deserialize_with = "whole")]
    pub timeout_ms: i64,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// JSON has one kind of number: `5.0` is the whole number 5 (JSON Schema's `integer` agrees), so
/// it is taken as such; a fraction or a number out of `T`'s range is refused.
fn whole<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    let number = serde_json::Number::deserialize(deserializer)?;
    number
        .as_i64()
        .or_else(|| {
            number
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9e18)
                .map(|f| f as i64)
        })
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| D::Error::custom(format!("{number} is not a whole number in range")))
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}
fn normal() -> String {
    "normal".into()
}
fn default_attempts() -> i32 {
    3
}
fn default_timeout() -> i64 {
    30_000
}

pub const MAX_ATTEMPTS: std::ops::RangeInclusive<i32> = 1..=25;
pub const TIMEOUT_MS: std::ops::RangeInclusive<i64> = 100..=3_600_000;
pub const MAX_LABELS: usize = 32;
pub const MAX_LABEL_KEY_CHARS: usize = 64;
pub const MAX_LABEL_VALUE_CHARS: usize = 256;
/// svc-tasks' label rules (it refuses a trigger whose labels break them), required of schedules
/// created or changed from now on. Stored schedules keep the looser rules above, so they still
/// load; svc-tasks refuses their offending triggers with a reason (ScheduledTaskRefused).
pub const NEW_MAX_LABELS: usize = 20;
pub const NEW_MAX_LABEL_KEY_CHARS: usize = 63;
pub const NEW_LABEL_KEY_PATTERN: &str = "^[A-Za-z0-9._/-]{1,63}$";
/// PostgreSQL's text and jsonb cannot hold U+0000: refused in every string a client sends.
pub const NUL_MESSAGE: &str = "must not contain U+0000 (NUL)";

/// The JSON pointer (below the value) of the first string or member name holding U+0000.
fn nul_at(value: &Value, at: String) -> Option<String> {
    let escape = |key: &str| key.replace('~', "~0").replace('/', "~1");
    match value {
        Value::String(s) => s.contains('\0').then_some(at),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_at(item, format!("{at}/{i}"))),
        Value::Object(members) => members.iter().find_map(|(key, member)| {
            let here = format!("{at}/{}", escape(key));
            if key.contains('\0') {
                Some(here)
            } else {
                nul_at(member, here)
            }
        }),
        _ => None,
    }
}

/// A problem with the template, located by JSON pointer (from the request's root).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateProblem {
    pub pointer: String,
    pub message: String,
}

fn validators() -> &'static BTreeMap<&'static str, jsonschema::Validator> {
    static VALIDATORS: OnceLock<BTreeMap<&'static str, jsonschema::Validator>> = OnceLock::new();
    VALIDATORS.get_or_init(|| {
        taskflow_schemas::TASK_TYPES
            .into_iter()
            .filter_map(|(name, text)| {
                let schema: Value = serde_json::from_str(text).ok()?;
                Some((name, jsonschema::validator_for(&schema).ok()?))
            })
            .collect()
    })
}

impl TaskTemplate {
    pub fn priority(&self) -> Option<Priority> {
        serde_json::from_value(Value::String(self.priority.to_ascii_uppercase())).ok()
    }

    /// The label rules svc-tasks applies to the tasks this template makes (see NEW_MAX_LABELS).
    pub fn check_labels_for_tasks(&self) -> Vec<TemplateProblem> {
        let mut problems = Vec::new();
        if self.labels.len() > NEW_MAX_LABELS {
            problems.push(TemplateProblem {
                pointer: "/task/labels".into(),
                message: format!(
                    "{} labels, at most {NEW_MAX_LABELS} allowed",
                    self.labels.len()
                ),
            });
        }
        for key in self.labels.keys() {
            let key_ok = !key.is_empty()
                && key.len() <= NEW_MAX_LABEL_KEY_CHARS
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
            if !key_ok {
                problems.push(TemplateProblem {
                    pointer: format!("/task/labels/{}", key.replace('~', "~0").replace('/', "~1")),
                    message: "label keys are 1-63 characters of [A-Za-z0-9-_./]".into(),
                });
            }
        }
        problems
    }

    /// Every problem at once (empty when the template is valid).
    pub fn check(&self) -> Vec<TemplateProblem> {
        let mut problems = Vec::new();
        let mut problem = |pointer: &str, message: String| {
            problems.push(TemplateProblem {
                pointer: format!("/task{pointer}"),
                message,
            });
        };
        match validators().get(self.task_type.as_str()) {
            None => problem(
                "/type",
                format!(
                    "unknown task type {:?}; known: {}",
                    self.task_type,
                    validators().keys().copied().collect::<Vec<_>>().join(", ")
                ),
            ),
            Some(validator) => {
                for error in validator.iter_errors(&self.payload) {
                    problem(
                        &format!("/payload{}", error.instance_path),
                        error.to_string(),
                    );
                }
                if let Some(at) = nul_at(&self.payload, String::new()) {
                    problem(&format!("/payload{at}"), NUL_MESSAGE.into());
                }
            }
        }
        if self.priority().is_none() {
            problem("/priority", "must be low, normal, high or critical".into());
        }
        if !MAX_ATTEMPTS.contains(&self.max_attempts) {
            problem(
                "/max_attempts",
                format!("{} is outside 1..=25", self.max_attempts),
            );
        }
        if !TIMEOUT_MS.contains(&self.timeout_ms) {
            problem(
                "/timeout_ms",
                format!("{} is outside 100..=3600000", self.timeout_ms),
            );
        }
        if self.labels.len() > MAX_LABELS {
            problem("/labels", format!("at most {MAX_LABELS} labels"));
        }
        for (key, value) in &self.labels {
            if key.is_empty()
                || key.chars().count() > MAX_LABEL_KEY_CHARS
                || value.chars().count() > MAX_LABEL_VALUE_CHARS
                || key.contains('\0')
                || value.contains('\0')
            {
                problem(
                    &format!("/labels/{key}"),
                    "keys are 1 to 64 characters, values at most 256, no NUL".into(),
                );
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn template(value: Value) -> Result<TaskTemplate, serde_json::Error> {
        serde_json::from_value(value)
    }

    #[test]
    fn whole_numbers_may_be_written_with_a_fraction_of_zero() {
        let t = template(json!({"type": "noop", "max_attempts": 3.0, "timeout_ms": 766404.0}))
            .expect("whole numbers");
        assert_eq!((t.max_attempts, t.timeout_ms), (3, 766_404));
        assert!(template(json!({"type": "noop", "max_attempts": 2.5})).is_err());
        assert!(template(json!({"type": "noop", "max_attempts": 1e12})).is_err());
    }

    #[test]
    fn nul_in_a_payload_is_refused_where_it_is() {
        let t =
            template(json!({"type": "fail", "payload": {"message": "a\u{0}b"}})).expect("parses");
        let problems = t.check();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].pointer, "/task/payload/message");
        let t = template(
            json!({"type": "http", "payload": {"url": "http://x", "headers": {"a\u{0}/": "v"}}}),
        )
        .expect("parses");
        assert_eq!(t.check()[0].pointer, "/task/payload/headers/a\u{0}~1");
    }

    #[test]
    fn new_templates_follow_svc_tasks_label_rules_and_stored_ones_still_load() {
        let labels: serde_json::Map<String, Value> =
            (0..21).map(|i| (format!("k{i}"), json!("v"))).collect();
        let t = template(json!({"type": "noop", "labels": labels})).expect("parses");
        assert!(
            t.check().is_empty(),
            "a stored schedule with 21 labels still loads"
        );
        assert_eq!(t.check_labels_for_tasks()[0].pointer, "/task/labels");

        let t = template(json!({"type": "noop", "labels": {"team name": "ops", "a/b": "x"}}))
            .expect("parses");
        assert!(t.check().is_empty());
        let problems = t.check_labels_for_tasks();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].pointer, "/task/labels/team name");
    }
}
