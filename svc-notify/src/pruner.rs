//! The pruner: every instance runs one. Every `prune_every` it deletes the notification
//! history older than `retention`, a batch at a time; a client resuming from a pruned cursor
//! gets a resync instead (`service::resume`).

use std::time::Duration;

use taskflow_platform::db::DbPool;
use taskflow_platform::runtime::StopSignal;

use crate::store;

/// Deletes history older than `retention`, a batch at a time.
pub async fn run(pool: DbPool, retention: Duration, every: Duration, mut stop: StopSignal) {
    loop {
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(every) => {}
        }
        if let Err(error) = prune_once(&pool, retention).await {
            tracing::warn!(%error, "pruning notification history failed; retrying later");
        }
    }
}

/// One round of retention: everything recorded before now − `retention`.
pub async fn prune_once(pool: &DbPool, retention: Duration) -> Result<usize, store::StoreError> {
    let cut_off =
        chrono::Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    let mut conn = pool.get().await?;
    let mut total = 0;
    loop {
        let pruned = store::prune_before(&mut conn, cut_off, 5_000).await?;
        total += pruned;
        if pruned < 5_000 {
            break;
        }
    }
    if total > 0 {
        tracing::info!(pruned = total, "notification history pruned");
    }
    Ok(total)
}
