//! svc-tasks against the real PostgreSQL, Kafka and schema registry (`make test`). Every test
//! gets its own database, topic prefix and consumer group.

mod append_only;
mod cancel;
mod contract;
mod cors;
mod delayed;
mod helpers;
mod idempotency;
mod isolation;
mod kafka_down;
mod keys;
mod log_migration;
mod outage;
mod projection;
mod quotas;
mod refusals;
mod relay;
mod retention;
mod scheduled;
mod state_cursor;
mod state_topic;
mod submit;
mod unstorable;
