//! The task a schedule starts, as the API takes it, checked at creation against the same
//! task-type catalogue svc-tasks uses (`schemas/tasks/*.json`), so a trigger never carries a
//! payload svc-tasks would refuse.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
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
    #[serde(default = "default_attempts")]
    pub max_attempts: i32,
    #[serde(default = "default_timeout")]
    pub timeout_ms: i64,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
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
            }
        }
        if self.priority().is_none() {
            problem("/priority", "must be low, normal, high or critical".into());
        }
        if !(1..=25).contains(&self.max_attempts) {
            problem(
                "/max_attempts",
                format!("{} is outside 1..=25", self.max_attempts),
            );
        }
        if !(100..=3_600_000).contains(&self.timeout_ms) {
            problem(
                "/timeout_ms",
                format!("{} is outside 100..=3600000", self.timeout_ms),
            );
        }
        if self.labels.len() > 32 {
            problem("/labels", "at most 32 labels".into());
        }
        for (key, value) in &self.labels {
            if key.is_empty()
                || key.len() > 64
                || value.len() > 256
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
