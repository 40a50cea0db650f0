//! The handlers that need nothing outside the process: `sleep`, `noop`, `fail` (and, in unit
//! tests only, `panic`).

use std::time::Duration;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

use super::{Handler, HandlerError, Progress};

/// Waits `duration_ms` in `steps` equal parts, reporting progress after each.
pub struct Sleep;

#[derive(Deserialize)]
pub struct SleepPayload {
    duration_ms: u64,
    #[serde(default = "one")]
    steps: u32,
}

fn one() -> u32 {
    1
}

impl Handler for Sleep {
    const TASK_TYPE: &'static str = "sleep";
    type Payload = SleepPayload;

    async fn run(&self, p: SleepPayload, progress: &dyn Progress) -> Result<Value, HandlerError> {
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
}

/// Succeeds at once with `{}`, whatever its payload.
pub struct Noop;

impl Handler for Noop {
    const TASK_TYPE: &'static str = "noop";
    type Payload = IgnoredAny;

    async fn run(&self, _: IgnoredAny, _: &dyn Progress) -> Result<Value, HandlerError> {
        Ok(json!({}))
    }
}

/// Fails with `message`, retryably unless `retryable` is false.
pub struct Fail;

#[derive(Deserialize)]
pub struct FailPayload {
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

impl Handler for Fail {
    const TASK_TYPE: &'static str = "fail";
    type Payload = FailPayload;

    async fn run(&self, p: FailPayload, _: &dyn Progress) -> Result<Value, HandlerError> {
        Err(if p.retryable {
            HandlerError::Retryable(p.message)
        } else {
            HandlerError::Permanent(p.message)
        })
    }
}

/// Unit tests only (task type `panic`): panics with the payload's `message`.
#[cfg(test)]
pub struct Panic;

#[cfg(test)]
#[derive(Deserialize)]
pub struct PanicPayload {
    #[serde(default = "panicked_on_purpose")]
    message: String,
}

#[cfg(test)]
fn panicked_on_purpose() -> String {
    "panicked on purpose".into()
}

#[cfg(test)]
impl Handler for Panic {
    const TASK_TYPE: &'static str = "panic";
    type Payload = PanicPayload;

    async fn run(&self, p: PanicPayload, _: &dyn Progress) -> Result<Value, HandlerError> {
        panic!("{}", p.message);
    }
}
