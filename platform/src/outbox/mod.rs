//! The transactional outbox every service shares: events are written to an `outbox` table in
//! the same transaction as the change they describe, and a relay publishes them to Kafka,
//! marking each row after the broker acknowledged it. A crash in between re-publishes the same
//! event (same event id) on the next pass; consumers drop the copy. Nothing committed is skipped.
//!
//! The table is the platform's own migration (`platform/migrations`), applied before a
//! service's migrations.
//!
//! ## Order per key, with any number of instances
//! Every instance of a service runs a relay over the one outbox table. If two relays published
//! at once, one task's rows could reach Kafka through two producers in either order. So a pass
//! is exclusive: it runs in a transaction that first takes a transaction-scoped advisory lock
//! (`pg_try_advisory_xact_lock`); a relay that does not get it does nothing this time. Inside a
//! pass one producer sends the oldest unpublished rows in id order (for one key, id order is
//! commit order: every writer of a task's events holds that task's row lock), waits for every
//! acknowledgement, and marks only each key's leading run of acknowledged rows: once a row of a
//! key failed, that key's later rows stay unpublished even if they were acknowledged, and are
//! sent again after it. The lock ends with the transaction, so a relay that crashes or whose
//! connection dies hands over at once; `idle_in_transaction_session_timeout` makes PostgreSQL
//! end the pass of a relay that stalls (SIGSTOP) so that another can take over. Whoever
//! publishes always starts from the oldest unmarked row, so the *first* copy of every event
//! reaches the topic in commit order; later copies are duplicates that consumers drop by event id.
//!
//! Why this design rather than relays owning key ranges: passes are short (one batch, bounded
//! by the producer's delivery timeout) and pipelined inside, so a single publisher at a time
//! costs little, needs no membership protocol, and stays correct with 1 or n instances.
//!
//! Relays wake on `LISTEN taskflow_outbox` (a statement trigger notifies on insert, delivered
//! at commit) instead of polling; the idle poll is a safety net only.
//!
//! The files follow that story: what services call inside their transactions (`enqueue`), the
//! table and its rows (`table`, `error`), the relay's statements (`store`), sending a batch
//! (`publish`) and the loop that takes turns (`relay`). They depend one way, `relay` ->
//! `publish` -> `store` -> `table`, so each can be read without the ones above it.

mod enqueue;
mod error;
mod publish;
mod relay;
mod store;
mod table;

pub use enqueue::{enqueue, enqueue_all, enqueue_dead_letter};
pub use error::OutboxError;
pub use publish::{BATCH, publish, publish_without_marking};
pub use relay::{KEEP_PUBLISHED, Pass, Relay, WAKE_CHANNEL};
pub use store::{backlog, claim_unpublished, mark_published, prune_published, take_relay_turn};
pub use table::{OutboxRow, outbox};
