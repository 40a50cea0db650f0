//! svc-executor: runs tasks. TaskCreated events are taken off Kafka into this service's own
//! PostgreSQL, which is the durable work queue: priorities, per-tenant fairness, leases that
//! survive a crash, and retry timers are rows there. Each outcome is a guarded state change
//! recorded with its event in one transaction, published through the outbox.

pub mod config;
pub mod dispatch;
pub mod domain;
pub mod events;
pub mod handlers;
pub mod ingest;
pub mod log;
pub mod rebuild;
pub mod startup;
pub mod store;
pub mod wake;
