//! HTTP pieces every service's API shares: health endpoints and the correlation/trace middleware.

pub mod correlation;
pub mod health;

pub use correlation::CorrelationId;
pub use health::Readiness;
