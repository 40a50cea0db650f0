//! Every SQL statement of svc-scheduler. Callers hand in a connection and own the transaction.

mod endings;
mod occurrences;
mod outbox;
mod refold;
mod retention;
mod rows;
mod schedules;
mod schema;

pub use endings::{
    delete_endings_before, hold_endings_exclusive, hold_endings_shared, record_endings,
    record_refusal, run_endings,
};
pub use occurrences::{
    insert_occurrences, last_run, list_occurrences, mark_task_ended, mark_trigger_refused,
    recorded_instants, schedules_waiting_for,
};
pub use outbox::append_events;
pub use refold::{
    LIFECYCLE, PAGE, count_logged_schedules, lock_schedules, log_position, logged_schedules_after,
    logs_of, remove_schedule, replace_schedule, wipe_projections,
};
pub use retention::{delete_occurrences_before, delete_outbox_before};
pub use rows::{OccurrenceRow, ScheduleRow};
pub use schedules::{
    delete_schedule, get_schedule, insert_schedule, list_schedules, lock_due, lock_schedule,
    next_fire_at, put_off, update_schedule,
};

pub type Conn = diesel_async::AsyncPgConnection;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("no database connection: {0}")]
    Pool(#[from] diesel_async::pooled_connection::deadpool::PoolError),
    #[error("outbox: {0}")]
    Outbox(#[from] taskflow_platform::outbox::OutboxError),
    #[error("a schedule named {0:?} exists already")]
    NameTaken(String),
}

impl StoreError {
    /// Whether the database cannot serve for now, so the same request may succeed later
    /// ([`taskflow_platform::db::is_transient`]). A taken name is an answer, not a failure.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Query(e) => taskflow_platform::db::is_transient(e),
            StoreError::Pool(e) => taskflow_platform::db::is_transient_pool(e),
            StoreError::Outbox(e) => e.is_transient(),
            StoreError::NameTaken(_) => false,
        }
    }
}

pub fn is_unique_violation(error: &diesel::result::Error) -> bool {
    matches!(
        error,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}
