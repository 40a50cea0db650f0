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

    /// A handler that panicked, with the panic's message (`payload` as `catch_unwind` gives
    /// it). Permanent: a panic is a bug in the handler, not a condition of the world outside
    /// that may pass, so another attempt with the same payload would most likely panic the
    /// same way, spending the task's remaining attempts and backoff only to reach the dead
    /// letter later; and a handler stopped half-way may already have had side effects that a
    /// re-run would repeat. The task fails at once and its dead letter names the panic.
    pub fn panicked(payload: &(dyn std::any::Any + Send)) -> Self {
        let message = payload
            .downcast_ref::<&str>()
            .map(|m| (*m).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        HandlerError::Permanent(format!("handler panicked: {message}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_a_permanent_failure_with_its_message() {
        let literal = std::panic::catch_unwind(|| panic!("boom")).expect_err("panics");
        assert_eq!(
            HandlerError::panicked(&*literal),
            HandlerError::Permanent("handler panicked: boom".into())
        );
        let formatted =
            std::panic::catch_unwind(|| panic!("bad payload {}", 7)).expect_err("panics");
        assert_eq!(
            HandlerError::panicked(&*formatted),
            HandlerError::Permanent("handler panicked: bad payload 7".into())
        );
        let other = std::panic::catch_unwind(|| std::panic::panic_any(42_u8)).expect_err("panics");
        assert_eq!(
            HandlerError::panicked(&*other),
            HandlerError::Permanent("handler panicked: a panic without a message".into())
        );
    }
}
