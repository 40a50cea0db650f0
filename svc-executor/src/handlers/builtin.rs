//! The handlers that need nothing outside the process: `sleep`, `noop`, `fail`.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{HandlerError, Progress};

#[derive(Deserialize)]
struct SleepPayload {
    duration_ms: u64,
    #[serde(default = "one")]
    steps: u32,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
struct FailPayload {
    #[serde(default = "default_message")]
    message: String,
    #[serde(default = "yes")]
    retryable: bool,
}

fn default_message() -> String {
    "failed on purpose".into()
}

fn yes() -> bool {
    true
}

fn parse<'a, T: Deserialize<'a>>(payload: &'a Value) -> Result<T, HandlerError> {
    T::deserialize(payload).map_err(|e| HandlerError::Permanent(format!("invalid payload: {e}")))
}

/// Waits `duration_ms` in `steps` equal parts, reporting progress after each.
pub async fn sleep(payload: &Value, progress: &dyn Progress) -> Result<Value, HandlerError> {
    let p: SleepPayload = parse(payload)?;
    let steps = p.steps.max(1);
    let step = Duration::from_millis(p.duration_ms) / steps;
    for done in 1..=steps {
        tokio::time::sleep(step).await;
        let percent = (done * 100 / steps) as i32;
        progress
            .report(percent, format!("step {done} of {steps}"))
            .await;
    }
    Ok(json!({"slept_ms": p.duration_ms, "steps": steps}))
}

pub fn noop() -> Result<Value, HandlerError> {
    Ok(json!({}))
}

pub fn fail(payload: &Value) -> Result<Value, HandlerError> {
    let p: FailPayload = parse(payload)?;
    Err(if p.retryable {
        HandlerError::Retryable(p.message)
    } else {
        HandlerError::Permanent(p.message)
    })
}

/// Unit tests only (task type `panic`): panics with the payload's `message`.
#[cfg(test)]
pub fn panic(payload: &Value) -> Result<Value, HandlerError> {
    let message = payload["message"].as_str().unwrap_or("panicked on purpose");
    panic!("{message}");
}
