pub mod batch;
pub mod dlq;
pub mod schedules;
pub mod tap;
pub mod tasks;
pub mod tenants;
pub mod watch;
