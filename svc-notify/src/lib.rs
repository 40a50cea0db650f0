//! svc-notify: tells people and programs what happens to their tasks, live. It follows task
//! requests, execution lifecycle and API key events into its own database (numbered history per
//! tenant, a live view per task, counters), and serves them as Server-Sent Events, WebSocket,
//! paged history and a browser dashboard.
//!
//! `http` (routes, problems) → `service` (the feeds: where one resumes, replay then live) →
//! `store` (every SQL statement); `domain` is pure. The background loops have a room each: the
//! consumer `ingest`, the fan-out `hub`, the retention (`startup::cleaners`, run by the platform's maintenance room). The shape is svc-tasks'
//! (`docs/service-skeleton.md`).

pub mod config;
pub mod domain;
pub mod http;
pub mod hub;
pub mod ingest;
pub mod service;
pub mod startup;
pub mod store;
