//! Every SQL statement of svc-tasks, as small functions over one connection, one file per
//! table group. Callers own the transaction; nothing here commits on its own.

mod rows;
pub mod schema;

mod event_log;
mod idempotency;
mod projection;
mod quotas;
mod rebuild;
mod tenants;

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::AsyncPgConnection;
use taskflow_schemas::EventKind;
use uuid::Uuid;

pub use event_log::*;
pub use idempotency::*;
pub use projection::*;
pub use quotas::*;
pub use rebuild::*;
pub use rows::{ListFilter, StoredEvent, TenantRow};
pub use tenants::*;

pub type Conn = AsyncPgConnection;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] DieselError),
    #[error("stored {what} is unreadable: {reason}")]
    Corrupt { what: &'static str, reason: String },
    #[error("task {task} changed concurrently (expected version {expected})")]
    Conflict { task: Uuid, expected: i32 },
    #[error(transparent)]
    Outbox(#[from] taskflow_platform::outbox::OutboxError),
    #[error("tenant name {0:?} is taken")]
    NameTaken(String),
    #[error("no database connection: {0}")]
    Pool(#[from] diesel_async::pooled_connection::deadpool::PoolError),
}

impl StoreError {
    /// Whether the database cannot serve for now, so the same request may succeed later
    /// ([`taskflow_platform::db::is_transient`]); a conflict or a taken name is an answer, not
    /// a failure, and unreadable rows are a bug.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Db(e) => taskflow_platform::db::is_transient(e),
            StoreError::Pool(e) => taskflow_platform::db::is_transient_pool(e),
            StoreError::Outbox(e) => e.is_transient(),
            StoreError::Corrupt { .. } | StoreError::Conflict { .. } | StoreError::NameTaken(_) => {
                false
            }
        }
    }
}

fn is_unique_violation(e: &DieselError) -> bool {
    matches!(
        e,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

/// What every statement file here uses.
mod prelude {
    pub(super) use chrono::{DateTime, Utc};
    pub(super) use diesel::dsl::{now, sql};
    pub(super) use diesel::prelude::*;
    pub(super) use diesel::sql_types::{BigInt, Bool};
    pub(super) use diesel_async::RunQueryDsl;
    pub(super) use taskflow_platform::db::prepared;
    pub(super) use taskflow_schemas::Event;
    pub(super) use uuid::Uuid;

    pub(super) use super::rows;
    pub(super) use super::schema::{
        api_keys, idempotency_keys, state_relay_cursor, task_events, tasks, tenant_usage, tenants,
    };
    pub(super) use super::{
        Conn, ListFilter, StoreError, StoredEvent, TenantRow, is_unique_violation,
    };
    pub(super) use crate::domain::TaskView;
    pub(super) use crate::domain::api_key::ApiKey;
    pub(super) use crate::domain::quota::Usage;
}

// The outbox table and its statements are shared by every service (taskflow-platform).

pub use taskflow_platform::outbox::{backlog as outbox_backlog, enqueue, enqueue_all};

pub fn event_kind(name: &str) -> Result<EventKind, StoreError> {
    EventKind::from_name(name).ok_or_else(|| StoreError::Corrupt {
        what: "event type",
        reason: name.to_owned(),
    })
}
