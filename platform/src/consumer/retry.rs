//! The consumer's wait between retries (a failing handler, an unreachable registry or
//! dead-letter topic): unlike the plain [`crate::backoff::step`], it gives way to shutdown, so a
//! stuck batch never holds a service's exit.

use std::future::Future;
use std::time::Duration;

use tokio::time::sleep;

/// Doubling waits between retries that give way to shutdown.
pub(super) struct Backoff {
    pub(super) initial: Duration,
    pub(super) max: Duration,
    pub(super) failures: u32,
}

impl Backoff {
    /// Logs `error`, then waits; false when shutdown was requested meanwhile.
    pub(super) async fn pause(
        &mut self,
        shutdown: &mut (impl Future<Output = ()> + Unpin),
        what: &str,
        error: &(dyn std::error::Error + Send + Sync),
    ) -> bool {
        self.failures = self.failures.saturating_add(1);
        let wait = crate::backoff::step(self.initial, self.max, self.failures);
        tracing::warn!(%error, what, retry_in_ms = wait.as_millis() as u64, "failed, retrying");
        tokio::select! {
            biased;
            () = &mut *shutdown => false,
            () = sleep(wait) => true,
        }
    }
}
