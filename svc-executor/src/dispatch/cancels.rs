//! Cancelling running attempts. A TaskCancelRequested for a running task only flags its row
//! (ingest); the instance that runs it reads its own flags (the claimer, every
//! `CANCEL_CHECK_EVERY` while attempts run) and tells each flagged attempt through its watch
//! channel, and the attempt ends as cancelled.

use std::collections::HashMap;
use std::sync::Mutex;

use taskflow_platform::db::DbPool;
use tokio::sync::watch;
use uuid::Uuid;

use crate::store;

/// The cancel flag of each attempt this instance runs, by task.
#[derive(Default)]
pub(super) struct Cancels(Mutex<HashMap<Uuid, watch::Sender<bool>>>);

impl Cancels {
    /// The flag of the attempt of `task_id` starting now; it turns true when it is cancelled.
    pub(super) fn watch(&self, task_id: Uuid) -> watch::Receiver<bool> {
        let (cancel_tx, cancel_rx) = watch::channel(false);
        if let Ok(mut cancels) = self.0.lock() {
            cancels.insert(task_id, cancel_tx);
        }
        cancel_rx
    }

    /// The attempt of `task_id` ended: nothing left to cancel.
    pub(super) fn forget(&self, task_id: Uuid) {
        if let Ok(mut cancels) = self.0.lock() {
            cancels.remove(&task_id);
        }
    }

    /// Reads which of `owner`'s running executions were asked to cancel and tells their
    /// attempts. No query while nothing runs here.
    pub(super) async fn signal_flagged(
        &self,
        db: &DbPool,
        owner: &str,
    ) -> Result<(), store::TxError> {
        if self.0.lock().map(|c| c.is_empty()).unwrap_or(true) {
            return Ok(());
        }
        let mut conn = db.get().await?;
        let flagged = store::cancel_flags(&mut conn, owner).await?;
        if let Ok(cancels) = self.0.lock() {
            for task_id in flagged {
                if let Some(tx) = cancels.get(&task_id) {
                    let _ = tx.send(true);
                }
            }
        }
        Ok(())
    }
}
