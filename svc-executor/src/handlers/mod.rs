//! Task handlers, one per task type. A handler turns a payload into a result or an error whose
//! kind says whether another attempt may succeed.

pub mod builtin;
pub mod http;

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// Another attempt may succeed (timeouts, 5xx, 429, connection errors).
    #[error("{0}")]
    Retryable(String),
    /// Retrying cannot help (bad input, refused target, 4xx).
    #[error("{0}")]
    Permanent(String),
}

impl HandlerError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, HandlerError::Retryable(_))
    }
}

/// Where a running handler reports how far it got.
pub trait Progress: Send + Sync {
    fn report(
        &self,
        percent: i32,
        message: String,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// Every handler, chosen by task type.
pub struct Handlers {
    pub http: http::HttpHandler,
}

impl Handlers {
    pub async fn run(
        &self,
        task_type: &str,
        payload: &Value,
        progress: &dyn Progress,
    ) -> Result<Value, HandlerError> {
        match task_type {
            "http" => self.http.run(payload).await,
            "sleep" => builtin::sleep(payload, progress).await,
            "noop" => builtin::noop(),
            "fail" => builtin::fail(payload),
            other => Err(HandlerError::Permanent(format!(
                "no handler for task type {other:?}"
            ))),
        }
    }
}
