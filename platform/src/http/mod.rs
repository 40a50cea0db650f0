//! HTTP pieces every service's API shares: health endpoints, the correlation/trace middleware
//! and the common parts of the OpenAPI documents.

pub mod correlation;
pub mod health;
pub mod openapi;

pub use correlation::CorrelationId;
pub use health::Readiness;
