//! Use cases: each runs the pure domain rules inside one database transaction, so a refused
//! command writes nothing and an accepted one writes its events, projection and outbox rows
//! together.

pub mod cancel;
pub mod credentials;
pub mod keys;
pub mod rebuild;
pub mod record;
pub mod scheduled;
pub mod submit;
pub mod tenants;

use std::sync::Arc;

use taskflow_platform::db::DbPool;
use tokio::sync::Notify;

use crate::domain::CancelRefused;
use crate::domain::catalog::TaskCatalog;
use crate::domain::quota::QuotaRefusal;
use crate::domain::submission::{Policy, SubmissionRefused};
use crate::store::StoreError;

/// What every use case needs.
#[derive(Clone)]
pub struct Services {
    pub db: DbPool,
    pub catalog: Arc<TaskCatalog>,
    pub policy: Policy,
    /// Wakes the outbox relay after a commit that enqueued events.
    pub outbox_ready: Arc<Notify>,
    /// `svc-tasks/<version>@<instance>`, the `producer` of events written here.
    pub producer_name: String,
    /// Where "now" comes from (a manual clock in tests).
    pub clock: taskflow_platform::clock::SharedClock,
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Refused(#[from] SubmissionRefused),
    #[error("batch item {index}: {source}")]
    BatchItemRefused {
        index: usize,
        #[source]
        source: SubmissionRefused,
    },
    #[error(transparent)]
    Quota(#[from] QuotaRefusal),
    #[error("a request with Idempotency-Key {0:?} is still in flight")]
    KeyInFlight(String),
    #[error("Idempotency-Key {0:?} was already used with a different request body")]
    KeyReused(String),
    #[error("no such task")]
    TaskNotFound,
    #[error(transparent)]
    CancelRefused(#[from] CancelRefused),
    #[error("no such tenant")]
    TenantNotFound,
    #[error("no such active key")]
    KeyNotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<taskflow_platform::outbox::OutboxError> for ServiceError {
    fn from(e: taskflow_platform::outbox::OutboxError) -> Self {
        ServiceError::Store(StoreError::Outbox(e))
    }
}

impl From<diesel::result::Error> for ServiceError {
    fn from(e: diesel::result::Error) -> Self {
        ServiceError::Store(StoreError::Db(e))
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for ServiceError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        ServiceError::Store(StoreError::Pool(e))
    }
}
