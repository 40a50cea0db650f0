//! svc-notify: tells people and programs what happens to their tasks, live. It follows task
//! requests, execution lifecycle and API key events into its own database (numbered history per
//! tenant, a live view per task, counters), and serves them as Server-Sent Events, WebSocket,
//! paged history and a browser dashboard.

pub mod config;
pub mod domain;
pub mod http;
pub mod hub;
pub mod ingest;
pub mod startup;
pub mod store;
pub mod subscription;
