//! What can go wrong, sorted by exit code: a usage error (2), a refusal by an API (1, printed
//! with its problem document), anything else (1). Commands return `anyhow::Result`; `main`
//! looks for these types in the chain to choose the code and the printing.

use std::fmt;

use reqwest::StatusCode;
use serde_json::Value;

/// The command line or its settings are wrong: exit code 2.
#[derive(Debug)]
pub struct Usage(pub String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(message.into()))
}

/// An HTTP API answered with an error status; `body` is its RFC 9457 problem document (or,
/// from something that is not TaskFlow, whatever text it sent, as a JSON string).
#[derive(Debug)]
pub struct ApiProblem {
    pub method: String,
    pub path: String,
    pub status: StatusCode,
    pub body: Value,
}

impl ApiProblem {
    fn text(&self, key: &str) -> Option<&str> {
        self.body.get(key).and_then(Value::as_str)
    }

    /// One line: title and detail.
    pub fn summary(&self) -> String {
        let title = self
            .text("title")
            .unwrap_or_else(|| self.status.canonical_reason().unwrap_or("error"));
        match (self.text("detail"), self.body.as_str()) {
            (Some(detail), _) => format!("{title}: {detail}"),
            (None, Some(text)) if !text.is_empty() => format!("{title}: {text}"),
            _ => title.to_owned(),
        }
    }

    /// Each located problem (`errors[]`: pointer and message) on a line of its own.
    pub fn located(&self) -> Vec<String> {
        self.body
            .get("errors")
            .and_then(Value::as_array)
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| {
                        let pointer = e.get("pointer").and_then(Value::as_str).unwrap_or("");
                        let message = e.get("message").and_then(Value::as_str).unwrap_or("");
                        format!("{pointer}: {message}")
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl fmt::Display for ApiProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} refused ({}): {}",
            self.method,
            self.path,
            self.status.as_u16(),
            self.summary()
        )?;
        for line in self.located() {
            write!(f, "\n  {line}")?;
        }
        for key in ["reason", "index", "retry_after_secs", "known_types"] {
            if let Some(value) = self.body.get(key) {
                write!(f, "\n  {key}: {value}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ApiProblem {}

/// The command ran but what it reports is a failure (a watched task failed, a batch was
/// refused): exit code 1. The report itself has been printed already.
#[derive(Debug)]
pub struct Failed(pub String);

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failed {}

pub fn failed(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Failed(message.into()))
}

/// Exit code for an error chain.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if error.chain().any(|e| e.is::<Usage>()) {
        2
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_problem_prints_its_detail_and_every_located_error() {
        let problem = ApiProblem {
            method: "POST".into(),
            path: "/v1/tasks:batch".into(),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: json!({
                "type": "urn:taskflow:problem:unknown-task-type",
                "title": "Unknown task type",
                "detail": "item 1: unknown task type \"nope\"",
                "index": 1,
                "errors": [{"pointer": "/tasks/1/type", "message": "unknown"}],
            }),
        };
        let text = problem.to_string();
        assert!(text.contains("(422): Unknown task type: item 1"), "{text}");
        assert!(text.contains("\n  /tasks/1/type: unknown"), "{text}");
        assert!(text.contains("\n  index: 1"), "{text}");
        assert_eq!(exit_code(&anyhow::Error::new(problem)), 1);
        assert_eq!(exit_code(&usage("bad flag")), 2);
    }
}
