//! The one contract a service implements to consume: kept apart so that a service reads what it
//! owes (durable, idempotent, retried until `Ok`) without the loop that calls it.

use std::future::Future;

use super::record::ConsumedRecord;

/// What a service does with what it consumes.
pub trait BatchHandler: Send {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Applies a batch durably and idempotently. `Err` makes the consumer retry the same batch
    /// with backoff; offsets move only after `Ok`.
    fn handle(
        &mut self,
        batch: &[ConsumedRecord],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}
