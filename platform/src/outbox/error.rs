//! One error for every outbox call, so that a service maps it once; whether it is worth a retry
//! (503) or a bug (500) is decided here, next to the causes.

use diesel_async::pooled_connection::deadpool::PoolError;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("database error: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("no database connection: {0}")]
    Pool(#[from] PoolError),
    #[error("event cannot be stored as JSON: {0}")]
    Body(#[from] serde_json::Error),
    #[error("outbox row {id} is unreadable: {reason}")]
    Corrupt { id: i64, reason: String },
}

impl OutboxError {
    /// Whether the database cannot serve for now ([`crate::db::is_transient`]); an event that
    /// cannot be stored and an unreadable row are not.
    pub fn is_transient(&self) -> bool {
        match self {
            OutboxError::Db(e) => crate::db::is_transient(e),
            OutboxError::Pool(e) => crate::db::is_transient_pool(e),
            OutboxError::Body(_) | OutboxError::Corrupt { .. } => false,
        }
    }
}
