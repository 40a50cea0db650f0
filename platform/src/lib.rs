//! Plumbing every TaskFlow service shares: settings, telemetry, the schema registry, and Kafka
//! producing/consuming of [`taskflow_schemas::Event`]s in their Avro contracts.

pub mod backoff;
pub mod clock;
pub mod codec;
pub mod config;
pub mod consumer;
pub mod db;
pub mod dead_letter;
pub mod entry;
pub mod headers;
pub mod http;
pub mod inbox;
mod instruments;
pub mod keys;
pub mod listen;
pub mod maintenance;
pub mod metrics;
pub mod outbox;
pub mod problem;
pub mod producer;
pub mod rebuild;
pub mod registry;
pub mod runtime;
pub mod schema_check;
pub mod telemetry;
/// Helpers for every crate's integration tests. Compiled always, not behind a feature: a
/// feature would make the test build compile this crate and everything above it a second time
/// (`make up` builds without it); binaries that do not call it do not link it.
pub mod testing;
pub mod text;
pub mod topic_admin;

pub use codec::{DecodeError, EncodeError, EventCodec};
pub use config::{ConfigError, KafkaSettings, RegistrySettings};
pub use consumer::{BatchHandler, ConsumedRecord, ConsumerSettings, EventConsumer, PoisonRecord};
pub use producer::{EventProducer, PublishError};
