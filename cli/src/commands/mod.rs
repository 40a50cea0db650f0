pub mod batch;
pub mod dlq;
pub mod schedule_history;
pub mod schedules;
pub mod tap;
pub mod tasks;
pub mod tenants;
pub mod watch;
