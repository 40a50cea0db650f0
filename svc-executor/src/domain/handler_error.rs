//! Why an attempt's handler failed, and whether another attempt may succeed. Handlers return it;
//! the rules in [`super::outcome`] decide what it leads to.

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
