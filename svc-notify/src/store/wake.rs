//! Waking every instance's fan-out from a transaction that changed what it tells without
//! writing a notification (a revoked key: the platform's key directory has no trigger of ours).
//! Raw SQL: `pg_notify` returns `void`, which diesel's builder cannot select.

use diesel_async::RunQueryDsl;

use super::{Conn, StoreError};

/// The channel the fan-out listens on (`notify_feed()` in the migrations notifies it too).
pub const FEED_CHANNEL: &str = "taskflow_notify";

/// Notifies [`FEED_CHANNEL`] at the commit of the caller's transaction.
pub async fn wake_fanout(conn: &mut Conn) -> Result<(), StoreError> {
    diesel::sql_query(format!("SELECT pg_notify('{FEED_CHANNEL}', '')"))
        .execute(conn)
        .await?;
    Ok(())
}
