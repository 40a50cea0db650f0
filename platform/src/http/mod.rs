//! HTTP pieces every service's API shares: health endpoints, the Bearer credential, the
//! correlation/trace middleware, the middleware that makes every error a problem document and
//! the common parts of the OpenAPI documents.

pub mod bearer;
pub mod correlation;
pub mod health;
pub mod openapi;
pub mod problems;

pub use correlation::CorrelationId;
pub use health::Readiness;
