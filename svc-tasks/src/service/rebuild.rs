//! Rebuilding the `tasks` projection (and the active-task counters) from the event log.

use diesel_async::AsyncConnection;

use super::{ServiceError, Services};
use crate::domain::apply;
use crate::store::{self, StoreError};

const PAGE: i64 = 500;

/// Refolds every task stream and overwrites its projection row; returns how many tasks.
/// Each page is one transaction, so live traffic interleaves; a task changed meanwhile is
/// written by whichever transaction commits last, and both fold the same log.
pub async fn rebuild_projections(services: &Services) -> Result<u64, ServiceError> {
    let mut conn = services.db.get().await?;
    let mut after = None;
    let mut rebuilt = 0u64;
    loop {
        let ids = store::stream_ids(&mut conn, after, PAGE).await?;
        let Some(last) = ids.last().copied() else {
            break;
        };
        rebuilt += ids.len() as u64;
        conn.transaction::<_, ServiceError, _>(async move |conn| {
            for id in &ids {
                // Lock first so the fold sees every event committed before it.
                store::lock_task(conn, *id).await?;
                let events = store::stream_events(conn, *id).await?;
                let task = events
                    .iter()
                    .try_fold(None, |state, e| apply(state, e).map(Some))
                    .map_err(|e| StoreError::Corrupt {
                        what: "task stream",
                        reason: e.to_string(),
                    })?;
                if let Some(task) = task {
                    store::upsert_task(conn, &task).await?;
                }
            }
            Ok(())
        })
        .await?;
        after = Some(last);
    }
    store::recount_active_tasks(&mut conn).await?;
    Ok(rebuilt)
}
