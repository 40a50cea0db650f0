//! Every SQL statement of svc-executor, as small functions over one connection, on diesel's
//! query builder over `schema`, except six written as SQL text where the builder cannot say
//! them, each with its reason beside it: three in `claim.rs` (the claim, `note_turns`,
//! `until_next_due`), two in `complete.rs` (the two statements of `finish_all`) and one in
//! `retention.rs` (the log's retention, `delete_log_before`); besides them only the literal
//! `'-infinity'` of `ensure_turns` and the retention's `SET LOCAL` are text. `rebuild.rs`
//! holds the statements of a rebuild of `executions` from the log. Callers own
//! the transaction. The outbox and the inbox are the platform's (`taskflow_platform::outbox`,
//! `taskflow_platform::inbox`).

mod attempts;
mod cancellations;
mod claim;
mod complete;
mod executions;
mod gauges;
mod leases;
pub mod rebuild;
mod retention;
pub mod schema;

use diesel::prelude::*;
use diesel::sql_types::Bool;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

pub use attempts::end_lost_attempts;
pub use cancellations::{CancelFound, cancel_flags, request_cancel};
pub use claim::{Claimed, claim, ensure_turns, note_turns, until_next_due};
pub use complete::{Outcome, finish_all};
pub use executions::{NewExecution, dead_letter_task, insert_executions};
pub use gauges::{depth_by_state, oldest_ready_age};
pub use leases::{holds, release_owned};
pub use retention::{delete_ended_before, delete_log_before};
pub use taskflow_platform::outbox::{append_internal, enqueue, enqueue_all};

pub type Conn = AsyncPgConnection;
/// What one statement here can fail with.
pub type StoreError = diesel::result::Error;

/// What a transaction over the store can fail with: a statement, getting a connection, or an
/// outbox row. Its callers, ingest and the dispatcher's rooms, own the transactions and fail in
/// exactly these ways, so they share this one type (they used to have a copy each); what
/// they do about it differs and stays with them: ingest hands it to the consumer, which retries
/// the batch, and the dispatcher logs it and tries again at its next wake-up.
#[derive(Debug, thiserror::Error)]
pub enum TxError {
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("no database connection: {0}")]
    Pool(#[from] diesel_async::pooled_connection::deadpool::PoolError),
    #[error(transparent)]
    Outbox(#[from] taskflow_platform::outbox::OutboxError),
}

/// `SELECT true`, for readiness.
pub async fn ping(conn: &mut Conn) -> Result<(), StoreError> {
    diesel::select(true.into_sql::<Bool>())
        .get_result::<bool>(conn)
        .await?;
    Ok(())
}
