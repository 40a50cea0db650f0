//! Waking this instance's dispatcher when queued work falls due — a retry at the end of its
//! backoff, a delayed task at its run_at — so that it starts then, not at the next poll.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use taskflow_platform::clock::Clock;
use tokio::sync::Notify;

/// Notifies `work_ready` at `at` (by `clock`). `notify_one` keeps a permit while the dispatcher
/// is busy, so the wake-up is not lost; other instances find the work by their own next-due
/// time or poll.
pub fn wake_at(work_ready: &Arc<Notify>, at: DateTime<Utc>, clock: &dyn Clock) {
    let delay = (at - clock.now()).to_std().unwrap_or_default();
    let work_ready = work_ready.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        work_ready.notify_one();
    });
}
