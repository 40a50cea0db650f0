//! TaskFlow's event contracts.
//!
//! The `.avsc` files under `schemas/avro/` are the source of truth; this crate embeds them and
//! gives each a Rust type whose serde shape matches the record field for field (checked by the
//! tests in `catalog.rs`). Topic names and which event travels on which topic live in `topics.rs`.

mod catalog;
mod events;
mod meta;
/// Example events for tests here and in other crates; compiled always so that the test build
/// shares this crate with `make up`'s (see `taskflow_platform::testing`).
pub mod samples;
mod schedule_events;
mod topics;
mod uuid_text;
mod vocabulary;

pub use catalog::{DecodeEventError, Event, EventKind};
pub use events::{
    ApiKeyIssued, ApiKeyRevoked, Priority, ScheduleOccurrenceSkipped, ScheduledTaskRefused,
    ScheduledTaskTriggered, TaskCancelRequested, TaskCancelled, TaskCompleted, TaskCreated,
    TaskFailed, TaskProgressUpdated, TaskStarted, TaskState,
};
pub use meta::EventMeta;
pub use schedule_events::{
    ScheduleChanged, ScheduleCreated, ScheduleDeleted, SchedulePaused, ScheduleResumed,
    ScheduleSettings, ScheduleState,
};
pub use topics::{Stream, Topics};
pub use vocabulary::{TASK_TYPES, TaskStatus};

/// Avro namespace shared by every TaskFlow record.
pub const NAMESPACE: &str = "io.taskflow.events";
