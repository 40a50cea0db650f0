//! The transactional outbox every service shares, kept as an append-only log: events are
//! appended to the `outbox` table in the same transaction as the change they describe, and a
//! relay publishes them to Kafka by position, recording after each pass how far it got
//! (`outbox_published`, one row per pass). A crash in between re-publishes the same events (same
//! event ids) on the next pass; consumers drop the copies. Nothing committed is skipped.
//!
//! The tables are the platform's own migrations (`platform/migrations`), applied before a
//! service's migrations.
//!
//! ## Reading by position skips nothing
//! Reading "everything after position p" skips nothing only if no row below a published
//! position can still commit. Every insert first takes one transaction-scoped advisory lock
//! *shared* (a statement trigger, `outbox_append`), held to its commit, and ids are drawn under
//! it; writers do not wait for each other. Before a pass the relay asks how far the log is
//! settled (`settled_up_to`): the highest id, then the same lock taken *exclusively* for an
//! instant in a transaction of its own, which waits for every append in flight — among them
//! every one holding an id up to that one. The pass reads only up to it. (Until migration 5 the
//! lock was exclusive for writers too: ids in commit order, but every writer of a database
//! committed after the one before it, 7-41 ms of waiting per submission on a busy machine.)
//! Writers append as the *last* statement of their transaction, after the row locks of the keys
//! they write: a second writer of a key draws its id after the first one's commit, so per key,
//! id order is commit order (P7); and nothing waits for a row lock while holding the lock.
//!
//! ## Append-only
//! A trigger refuses UPDATE, DELETE and TRUNCATE of the log; the maintenance room deletes
//! published rows past their retention (`TASKFLOW_OUTBOX_RETENTION_HOURS`) under the
//! transaction setting `taskflow.retention`, the only delete let through. A service whose
//! projections are folded from its log keeps the event types they need from retention
//! (`delete_published_before_keeping`).
//!
//! ## The whole log, not only what is announced
//! The outbox is each service's event log: it also holds *internal* events (`append_internal`,
//! column `internal`, migration 7), the facts a service's projections are folded from that no
//! other service reads — the TaskCreated svc-executor queued, the execution events svc-tasks
//! folded into a task's stream. They take ids like every row; the relay never reads them, and
//! a pass that has sent everything up to the settled id records that id as its position, so
//! the next pass starts past the internal rows too. They wake no relay.
//!
//! ## Order per key, with any number of instances
//! Every instance of a service runs a relay over the one log. If two relays published at once,
//! one task's rows could reach Kafka through two producers in either order. So a pass is
//! exclusive: it runs in a transaction that first takes another transaction-scoped advisory lock
//! (`pg_try_advisory_xact_lock`); a relay that does not get it does nothing this time. Inside a
//! pass one producer sends the rows after the position in id order, waits for every
//! acknowledgement, and moves the position to the end of the leading run of acknowledged rows:
//! from the first failure on, every row is sent again by a later pass, after it. The lock ends
//! with the transaction, so a relay that crashes or whose connection dies hands over at once;
//! `idle_in_transaction_session_timeout` makes PostgreSQL end the pass of a relay that stalls
//! (SIGSTOP) so that another can take over. Whoever publishes starts from the position, so the
//! *first* copy of every event reaches the topic in commit order; later copies are duplicates
//! that consumers drop by event id.
//!
//! Why this design rather than relays owning key ranges: passes are short (one batch, bounded
//! by the producer's delivery timeout) and pipelined inside, so a single publisher at a time
//! costs little, needs no membership protocol, and stays correct with 1 or n instances.
//!
//! Relays wake on `LISTEN taskflow_outbox` (a statement trigger notifies on insert, delivered
//! at commit) instead of polling; the idle poll is a safety net only.
//!
//! The files follow that story: what services call inside their transactions (`enqueue`), the
//! tables and their rows (`table`, `error`), the relay's statements and the log's retention
//! (`store`), sending a batch (`publish`) and the loop that takes turns (`relay`). They depend
//! one way, `relay` -> `publish` -> `store` -> `table`, so each can be read without the ones
//! above it.

mod enqueue;
mod error;
mod publish;
mod relay;
mod store;
mod table;

pub use enqueue::{append_internal, enqueue, enqueue_all, enqueue_dead_letter};
pub use error::OutboxError;
pub use publish::{BATCH, Sent, publish, publish_without_marking};
pub use relay::{Pass, Relay, WAKE_CHANNEL};
pub use store::{
    backlog, claim_unpublished, delete_published_before, delete_published_before_keeping,
    mark_published, published_up_to, read_after, settled_up_to, take_relay_turn,
};
pub use table::{OutboxRow, outbox, outbox_published};

/// How long published events stay in the log.
pub const RETENTION: crate::config::Setting = crate::config::Setting::or(
    "TASKFLOW_OUTBOX_RETENTION_HOURS",
    "168",
    "how long published events stay in the service's outbox log (7 days)",
);

/// The log's cleaner, keeping published events for `keep`.
pub fn cleaner(keep: std::time::Duration) -> crate::maintenance::Cleaner {
    crate::maintenance::Cleaner {
        table: "outbox",
        keep,
        delete: delete_published_before,
    }
}
