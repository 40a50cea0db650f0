//! svc-scheduler: fires schedules (cron, fixed interval, one-off) as tasks, each instant once.
//!
//! `domain` holds the pure rules: when a schedule fires, how it is validated, jitter, overlap and
//! catch-up decisions. Time is always passed in; nothing here reads a clock or does I/O.

pub mod config;
pub mod domain;
pub mod firer;
pub mod firing;
pub mod http;
pub mod ingest;
pub mod model;
pub mod startup;
pub mod store;
pub mod template;
