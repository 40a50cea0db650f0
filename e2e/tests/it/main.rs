//! TaskFlow end to end (svc-executor behind svc-tasks, svc-notify beside them): the real svc-tasks API in front, real Kafka, registry and
//! PostgreSQL. Each test gets its own databases, topic prefix and consumer groups.

mod crashes;
mod delayed;
mod hardening;
mod helpers;
mod least_privilege;
mod lifecycle;
mod metrics;
mod notify;
mod ordering;
mod schedule_overlap;
mod schedules;
mod scheduling;
mod tracing_backend;
mod tracing_e2e;
