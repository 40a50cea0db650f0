//! HTTP pieces every service's API shares: health endpoints, the Bearer credential and the
//! calling tenant, the correlation/trace middleware, the handlers' error type and the answers to
//! refused requests, the middleware that makes every error a problem document and the common
//! parts of the OpenAPI documents.

pub mod bearer;
pub mod correlation;
pub mod errors;
pub mod health;
pub mod openapi;
pub mod problems;
pub mod rejections;
pub mod tenant;

pub use correlation::CorrelationId;
pub use errors::ApiError;
pub use health::Readiness;
pub use rejections::Rejections;
pub use tenant::{KeyDirectory, Tenant};
