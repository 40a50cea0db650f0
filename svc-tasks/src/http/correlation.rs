//! `X-Correlation-Id` and the request span: the platform's middleware, shared by every service.

pub use taskflow_platform::http::correlation::{CorrelationId, HEADER, middleware};
