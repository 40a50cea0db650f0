//! A running handler's progress reports: each becomes a TaskProgressUpdated in the outbox, in a
//! transaction that first checks the attempt still holds its lease, so an attempt taken over
//! elsewhere cannot report on the new one's behalf.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use diesel_async::AsyncConnection;
use taskflow_platform::clock::SharedClock;
use taskflow_platform::db::DbPool;
use tokio::sync::Notify;
use tracing::Instrument;

use crate::events::AttemptRef;
use crate::handlers::Progress;
use crate::store;

/// Where this instance's attempts report their progress: one, shared by all.
pub(super) struct ProgressOutbox {
    pub(super) db: DbPool,
    pub(super) clock: SharedClock,
    /// The lease owner the reports are guarded by.
    pub(super) instance: String,
    pub(super) outbox_ready: Arc<Notify>,
}

/// The progress of one attempt, as its handler sees it.
pub(super) struct AttemptProgress {
    pub(super) outbox: Arc<ProgressOutbox>,
    pub(super) attempt: AttemptRef,
}

impl Progress for AttemptProgress {
    fn report(
        &self,
        percent: i32,
        message: String,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let outbox = self.outbox.clone();
        let event = self.attempt.progress(&*outbox.clock, percent, message);
        let attempt = self.attempt.clone();
        // A task of its own: the handler's future is dropped when its attempt times out or is
        // cancelled, and a transaction dropped between its insert and its commit would keep
        // its connection, and the outbox writers' lock, until the pool noticed.
        let report = tokio::spawn(
            async move {
                let Ok(mut conn) = outbox.db.get().await else {
                    return;
                };
                let owner = &outbox.instance;
                let result = conn
                    .transaction::<_, store::TxError, _>(async |conn| {
                        if store::holds(conn, attempt.task_id, attempt.attempt, owner).await? {
                            store::enqueue(conn, &event).await?;
                        }
                        Ok(())
                    })
                    .await;
                match result {
                    Ok(()) => outbox.outbox_ready.notify_one(),
                    // Progress is advisory: a lost report is not worth failing the attempt for.
                    Err(error) => tracing::debug!(%error, "progress report dropped"),
                }
            }
            // The attempt's span, whose trace the event's outbox row carries.
            .instrument(tracing::Span::current()),
        );
        Box::pin(async move {
            let _ = report.await;
        })
    }
}
