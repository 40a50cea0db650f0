//! svc-scheduler: fires schedules (cron, fixed interval, one-off) as tasks, each instant once.
//!
//! `domain` holds the pure rules: what a schedule is, when it fires, how it is validated,
//! jitter, overlap and catch-up decisions. Time is always passed in; nothing there reads a
//! clock or does I/O. `http` → `service` (one transaction per use case) → `store` (every SQL
//! statement); the firer (`firer`) and the consumer (`ingest`) are the background loops.
//! The shape is svc-tasks' (`docs/service-skeleton.md`).

pub mod config;
pub mod domain;
pub mod firer;
pub mod http;
pub mod ingest;
pub mod service;
pub mod startup;
pub mod store;
