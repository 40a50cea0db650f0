//! Shutting down without losing work: on SIGTERM the claimer stops taking work; the attempts
//! still running get the drain time to finish (the completer records them), and whatever is
//! still running then is aborted and given back (`Released`: queued again, due now, without
//! using up one of the task's attempts) so that another instance starts it at once instead of
//! waiting for the lease to expire.

use taskflow_platform::db::DbPool;
use tokio::task::JoinSet;

use super::{DispatchSettings, attempt};
use crate::store;
use diesel_async::AsyncConnection;

/// Lets `running` finish within the drain time, then gives back the rest.
pub(super) async fn drain(db: &DbPool, settings: &DispatchSettings, mut running: JoinSet<()>) {
    let deadline = tokio::time::Instant::now() + settings.drain;
    while !running.is_empty() {
        match tokio::time::timeout_at(deadline, running.join_next()).await {
            Ok(Some(joined)) => attempt::ended(joined),
            Ok(None) => {}
            Err(_) => {
                running.abort_all();
                break;
            }
        }
    }
    match db.get().await {
        Ok(mut conn) => match conn
            .transaction::<_, store::TxError, _>(async |conn| {
                Ok(store::release_owned(conn, &settings.instance).await?)
            })
            .await
        {
            Ok(released) if released > 0 => {
                tracing::info!(released, "released unfinished attempts")
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "releasing attempts failed; their leases will expire")
            }
        },
        Err(error) => {
            tracing::warn!(%error, "releasing attempts failed; their leases will expire")
        }
    }
}
