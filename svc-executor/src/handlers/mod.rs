//! Task handlers, one per task type, and the registry that chooses one. A handler declares the
//! task type it runs and the payload it reads (a serde type), and turns that payload into a
//! result or an error whose kind says whether another attempt may succeed. A test ties the
//! registry's names to `taskflow_schemas::TASK_TYPES`, so a task type cannot ship without a
//! handler, nor a handler without its task type.

pub mod builtin;
pub mod http;

use std::future::Future;
use std::pin::Pin;

use futures::future::BoxFuture;
use serde::Deserialize;
use serde::de::DeserializeOwned;
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

/// The handler of one task type.
pub trait Handler: Send + Sync + 'static {
    /// The task type's name, as `taskflow_schemas::TASK_TYPES` spells it.
    const TASK_TYPE: &'static str;

    /// The payload, read from the task's JSON before the handler runs.
    type Payload: DeserializeOwned + Send;

    fn run(
        &self,
        payload: Self::Payload,
        progress: &dyn Progress,
    ) -> impl Future<Output = Result<Value, HandlerError>> + Send;

    /// A payload that does not read as [`Self::Payload`]: the same payload would fail again.
    fn invalid_payload(error: serde_json::Error) -> HandlerError {
        HandlerError::Permanent(format!("invalid payload: {error}"))
    }
}

/// A [`Handler`] with its payload type erased, so the registry can hold every handler alike.
trait Registered: Send + Sync {
    fn task_type(&self) -> &'static str;

    fn run<'a>(
        &'a self,
        payload: &'a Value,
        progress: &'a dyn Progress,
    ) -> BoxFuture<'a, Result<Value, HandlerError>>;
}

impl<H: Handler> Registered for H {
    fn task_type(&self) -> &'static str {
        H::TASK_TYPE
    }

    fn run<'a>(
        &'a self,
        payload: &'a Value,
        progress: &'a dyn Progress,
    ) -> BoxFuture<'a, Result<Value, HandlerError>> {
        Box::pin(async move {
            let payload = H::Payload::deserialize(payload).map_err(H::invalid_payload)?;
            Handler::run(self, payload, progress).await
        })
    }
}

/// Every handler of this build, chosen by task type.
pub struct Handlers {
    registered: Vec<Box<dyn Registered>>,
}

impl Handlers {
    /// The registry: `http` comes built from the operator's policy, the others need nothing.
    pub fn new(http: http::HttpHandler) -> Self {
        let mut handlers = Self {
            registered: Vec::new(),
        };
        handlers.register(http);
        handlers.register(builtin::Sleep);
        handlers.register(builtin::Noop);
        handlers.register(builtin::Fail);
        // Unit tests only: a handler that panics, for the attempt runner's panic handling.
        #[cfg(test)]
        handlers.register(builtin::Panic);
        handlers
    }

    fn register(&mut self, handler: impl Handler) {
        self.registered.push(Box::new(handler));
    }

    /// The task types this build runs.
    pub fn task_types(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.registered.iter().map(|h| h.task_type())
    }

    /// Runs `payload` with the handler of `task_type`. A type without a handler fails for good:
    /// no later attempt of this build would find one.
    pub async fn run(
        &self,
        task_type: &str,
        payload: &Value,
        progress: &dyn Progress,
    ) -> Result<Value, HandlerError> {
        let Some(handler) = self.registered.iter().find(|h| h.task_type() == task_type) else {
            return Err(HandlerError::Permanent(format!(
                "no handler for task type {task_type:?}"
            )));
        };
        handler.run(payload, progress).await
    }
}

/// A progress sink that drops every report, for tests of handlers that do not report.
#[cfg(test)]
pub(crate) struct NoProgress;

#[cfg(test)]
impl Progress for NoProgress {
    fn report(&self, _: i32, _: String) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::http::{HttpHandler, HttpPolicy};
    use super::*;

    /// Handlers compiled into unit tests only; no task type names them, on purpose.
    const TEST_ONLY: [&str; 1] = [<builtin::Panic as Handler>::TASK_TYPE];

    fn handlers() -> Handlers {
        Handlers::new(HttpHandler::new(HttpPolicy::default()).expect("http handler"))
    }

    #[test]
    fn every_task_type_has_one_handler_and_every_handler_a_task_type() {
        let mut registered: Vec<&str> = handlers()
            .task_types()
            .filter(|t| !TEST_ONLY.contains(t))
            .collect();
        registered.sort_unstable();
        let mut vocabulary: Vec<&str> = taskflow_schemas::TASK_TYPES
            .iter()
            .map(|(name, _)| *name)
            .collect();
        vocabulary.sort_unstable();
        assert_eq!(registered, vocabulary);
        for test_only in TEST_ONLY {
            assert!(
                !vocabulary.contains(&test_only),
                "{test_only} is a real type"
            );
        }
    }

    #[tokio::test]
    async fn a_task_type_without_a_handler_fails_for_good() {
        let err = handlers()
            .run("teleport", &json!({}), &NoProgress)
            .await
            .expect_err("no handler");
        assert_eq!(
            err,
            HandlerError::Permanent("no handler for task type \"teleport\"".into())
        );
    }

    #[tokio::test]
    async fn a_payload_that_does_not_read_as_the_handlers_type_fails_for_good() {
        let handlers = handlers();
        let err = handlers
            .run("sleep", &json!({"steps": 2}), &NoProgress)
            .await
            .expect_err("no duration");
        assert!(
            matches!(&err, HandlerError::Permanent(m) if m.starts_with("invalid payload: missing field `duration_ms`")),
            "{err:?}"
        );
        let err = handlers
            .run("http", &json!({"url": 7}), &NoProgress)
            .await
            .expect_err("a number is no url");
        assert!(
            matches!(&err, HandlerError::Permanent(m) if m.starts_with("invalid http payload: ")),
            "{err:?}"
        );
        // `noop` reads nothing, so anything goes, as before payloads were typed.
        let done = handlers.run("noop", &Value::Null, &NoProgress).await;
        assert_eq!(done, Ok(json!({})));
    }
}
