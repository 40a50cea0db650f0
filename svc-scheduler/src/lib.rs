//! svc-scheduler: fires schedules (cron, fixed interval, one-off) as tasks.
//!
//! `domain` holds the pure rules: when a schedule fires, how it is validated, jitter, overlap and
//! catch-up decisions. Time is always passed in; nothing here reads a clock or does I/O.

pub mod domain;
