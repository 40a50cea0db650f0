//! Task handlers, one per task type. A handler turns a payload into a result or an error whose
//! kind says whether another attempt may succeed.

pub mod builtin;
pub mod http;

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

/// Why an attempt failed: a domain type (the rules decide what it leads to), re-exported here
/// for the handlers that return it.
pub use crate::domain::HandlerError;

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
            // Unit tests only: a handler that panics, for the dispatcher's panic handling.
            #[cfg(test)]
            "panic" => builtin::panic(payload),
            other => Err(HandlerError::Permanent(format!(
                "no handler for task type {other:?}"
            ))),
        }
    }
}
