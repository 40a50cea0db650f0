//! svc-tasks: the task submission API. Tenants submit tasks over HTTP; every accepted fact is an
//! event in this service's own PostgreSQL log, projected for reads and published to Kafka
//! through a transactional outbox. The executor's lifecycle events flow back into the log.

pub mod config;
pub mod domain;
pub mod http;
pub mod ingest;
pub mod service;
pub mod startup;
pub mod state_relay;
pub mod store;
