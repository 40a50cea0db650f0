//! Every SQL statement of svc-notify. Callers hand in a connection (and own the transaction);
//! nothing here decides anything.

mod feed;
mod held;
mod prune;
mod read;
mod rebuild;
mod rows;
mod schema;
mod secret;
mod wake;

pub use feed::{
    StoredNotification, add_to_counts, allocate_seqs, insert_notifications, lock_tasks, save_tasks,
};
pub use held::{hold, not_yet_told, take_held};
pub use prune::prune_before;
pub use read::{Overview, after_all, cursor_of, history, overview, task_has_ended, task_tenant};
pub use rebuild::{
    HistoryKey, count_histories, histories, history_keys, insert_missing_tasks, overwrite_tasks,
    recount_statuses, wipe_projections,
};
pub use rows::{NotificationRow, TaskRow};
pub use secret::token_secret;
pub use wake::{FEED_CHANNEL, wake_fanout};

pub type Conn = diesel_async::AsyncPgConnection;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("no database connection: {0}")]
    Pool(#[from] diesel_async::pooled_connection::deadpool::PoolError),
    #[error("stored {what} is not valid: {reason}")]
    Corrupt { what: &'static str, reason: String },
}

impl StoreError {
    /// Whether the database cannot serve for now, so the same request may succeed later
    /// ([`taskflow_platform::db::is_transient`]); an invalid stored row is a bug.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Query(e) => taskflow_platform::db::is_transient(e),
            StoreError::Pool(e) => taskflow_platform::db::is_transient_pool(e),
            StoreError::Corrupt { .. } => false,
        }
    }
}
