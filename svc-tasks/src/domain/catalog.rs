//! The task-type catalogue: which types exist and what their payloads must look like. The JSON
//! Schemas under `schemas/tasks/` (embedded by taskflow-schemas) are the contract; a type not
//! listed there is refused.

use std::collections::BTreeMap;

use serde_json::Value;

/// (type name, JSON Schema text)
const TYPES: [(&str, &str); 4] = taskflow_schemas::TASK_TYPES;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("task type {name}: schema is not valid JSON Schema: {reason}")]
    BadSchema { name: &'static str, reason: String },
}

/// A payload problem, located by JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PayloadProblem {
    pub pointer: String,
    pub message: String,
}

pub struct TaskCatalog {
    validators: BTreeMap<&'static str, jsonschema::Validator>,
}

/// Every task type's payload schema (name, JSON Schema), for documentation.
pub fn payload_schemas() -> impl Iterator<Item = (&'static str, Value)> {
    TYPES
        .into_iter()
        .filter_map(|(name, text)| Some((name, serde_json::from_str(text).ok()?)))
}

impl TaskCatalog {
    pub fn load() -> Result<Self, CatalogError> {
        let mut validators = BTreeMap::new();
        for (name, text) in TYPES {
            let schema: Value =
                serde_json::from_str(text).map_err(|e| CatalogError::BadSchema {
                    name,
                    reason: e.to_string(),
                })?;
            let validator =
                jsonschema::validator_for(&schema).map_err(|e| CatalogError::BadSchema {
                    name,
                    reason: e.to_string(),
                })?;
            validators.insert(name, validator);
        }
        Ok(Self { validators })
    }

    pub fn type_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.validators.keys().copied()
    }

    /// `None` when the type is unknown; otherwise the payload's problems (empty when valid).
    pub fn check(&self, task_type: &str, payload: &Value) -> Option<Vec<PayloadProblem>> {
        let validator = self.validators.get(task_type)?;
        Some(
            validator
                .iter_errors(payload)
                .take(20)
                .map(|e| PayloadProblem {
                    pointer: format!("/payload{}", e.instance_path),
                    message: e.to_string(),
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_type_loads_and_checks_its_payload() {
        let catalog = TaskCatalog::load().expect("schemas compile");
        assert_eq!(
            catalog.type_names().collect::<Vec<_>>(),
            ["fail", "http", "noop", "sleep"]
        );
        assert_eq!(
            catalog.check("sleep", &json!({"duration_ms": 10, "steps": 2})),
            Some(vec![])
        );
        assert_eq!(catalog.check("noop", &json!({})), Some(vec![]));
        assert_eq!(catalog.check("teleport", &json!({})), None);
        let problems = catalog
            .check("sleep", &json!({"duration_ms": -1, "extra": true}))
            .expect("known type");
        assert_eq!(problems.len(), 2, "{problems:?}");
        let problems = catalog
            .check("http", &json!({"url": "ftp://x"}))
            .expect("known");
        assert_eq!(problems[0].pointer, "/payload/url");
    }
}
