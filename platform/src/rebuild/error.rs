//! What can go wrong starting, reading or running a rebuild job.

use uuid::Uuid;

/// A rebuild's error. [`RebuildError::is_transient`] says whether the same request may succeed
/// later (the HTTP answer is then a 503).
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error("no database connection: {0}")]
    Pool(#[from] diesel_async::pooled_connection::deadpool::PoolError),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    /// The projection's own failure, with its message.
    #[error("{0}")]
    Projection(Box<dyn std::error::Error + Send + Sync>),
    #[error("no projection rebuild job {0}")]
    NotFound(Uuid),
    /// A job was ending just as another was asked for: ask again.
    #[error("a projection rebuild is ending; retry")]
    Ending,
    /// The job's row no longer says `running` (another instance decided its runner was gone).
    #[error("the job was marked ended by another instance while it ran")]
    Interrupted,
}

impl RebuildError {
    pub(crate) fn projection(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        RebuildError::Projection(Box::new(e))
    }

    /// Whether the database cannot serve for now ([`crate::db::is_transient`]), or a job was
    /// ending: the same request may succeed later.
    pub fn is_transient(&self) -> bool {
        match self {
            RebuildError::Pool(e) => crate::db::is_transient_pool(e),
            RebuildError::Query(e) => crate::db::is_transient(e),
            RebuildError::Ending => true,
            RebuildError::Projection(_) | RebuildError::NotFound(_) | RebuildError::Interrupted => {
                false
            }
        }
    }
}
