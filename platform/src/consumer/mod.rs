//! Consuming events in batches with at-least-once delivery.
//!
//! Offsets are *stored* only after the handler has made a batch's effect durable, and librdkafka
//! commits stored offsets in the background and when partitions are revoked. A record whose
//! partition was revoked mid-batch cannot be stored by us; its new owner gets it again, which the
//! handler's dedupe (by event id, in the same transaction as the effect) makes harmless.
//!
//! One file per job, so that a question about the consumer starts in one place: joining and
//! leaving the group (`membership`), the batch loop (`batches`), what a handler receives
//! (`record`, `handler`), the lag gauge (`lag`) and the wait between retries (`retry`).

mod batches;
mod handler;
mod lag;
mod membership;
mod record;
mod retry;
mod settings;

pub use crate::dead_letter::PoisonRecord;
pub use handler::BatchHandler;
pub use membership::EventConsumer;
pub use record::ConsumedRecord;
pub use settings::ConsumerSettings;
