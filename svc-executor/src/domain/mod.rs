//! Pure rules of the executor: an execution's states and the moves between them, what an
//! attempt's outcome leads to, an execution folded from its log (`replay`), backoff, and the
//! handler error. Nothing here does I/O: no
//! database, no network, no clock (callers pass the instant).

pub mod backoff;
pub mod execution;
pub mod handler_error;
pub mod outcome;
pub mod replay;
pub mod unknown_text;

pub use execution::ExecutionState;
pub use handler_error::HandlerError;
pub use outcome::AttemptOutcome;
