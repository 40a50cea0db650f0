//! svc-scheduler settings, from the environment (`.taskflow/dev.env` after `make up`).
//!
//! What it reads is the table [`SETTINGS`] (`svc-scheduler --print-config` prints it).

use taskflow_platform::config::{
    ConfigError, KAFKA_SETTINGS, PROCESS_SETTINGS, REGISTRY_SETTINGS, Setting, Vars, process_env,
};
use taskflow_platform::maintenance::{self, MAINTENANCE_SETTINGS, MaintenanceSettings};
use taskflow_platform::rebuild::{ADMIN_TOKEN, AdminToken};
use taskflow_platform::{KafkaSettings, RegistrySettings};

use std::time::Duration;

const DATABASE_URL: Setting = Setting::required(
    "DATABASE_URL_SCHEDULER",
    "this service's own PostgreSQL database",
);
const BIND: Setting = Setting::or(
    "TASKFLOW_SCHEDULER_BIND",
    "127.0.0.1:18096",
    "HTTP listen address (port 0 picks one)",
);
const WORKERS: Setting = Setting::or("TASKFLOW_SCHEDULER_WORKERS", "2", "HTTP worker threads");
const DB_POOL: Setting = Setting::or("TASKFLOW_SCHEDULER_DB_POOL", "8", "database connections");
const GROUP: Setting = Setting::or(
    "TASKFLOW_SCHEDULER_GROUP",
    "svc-scheduler",
    "consumer group following keys and task endings",
);
const MAX_PER_SECOND: Setting = Setting::or(
    "TASKFLOW_SCHEDULER_MAX_PER_SECOND",
    "1",
    "most fires per second one schedule may ask for",
);

const RETENTION_HOURS: Setting = Setting::or(
    "TASKFLOW_SCHEDULER_RETENTION_HOURS",
    "720",
    "how long the occurrences of finished runs are kept (30 days)",
);

/// Every variable svc-scheduler reads, its own first.
pub const SETTINGS: [&[Setting]; 5] = [
    &[
        DATABASE_URL,
        BIND,
        WORKERS,
        DB_POOL,
        GROUP,
        MAX_PER_SECOND,
        RETENTION_HOURS,
        ADMIN_TOKEN,
    ],
    &MAINTENANCE_SETTINGS,
    &KAFKA_SETTINGS,
    &REGISTRY_SETTINGS,
    &PROCESS_SETTINGS,
];

#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    pub bind: String,
    pub workers: usize,
    pub database_url: String,
    pub db_pool_size: usize,
    pub consumer_group: String,
    pub max_per_second: f64,
    /// How long the occurrences of finished runs are kept.
    pub retention: Duration,
    pub maintenance: MaintenanceSettings,
    /// The operator's token of the admin routes; none: they are off.
    pub admin_token: AdminToken,
    pub kafka: KafkaSettings,
    pub registry: RegistrySettings,
}

impl SchedulerConfig {
    /// How long what became of the instants stays in the log (the outbox): as long as the
    /// occurrences, or the platform's log retention if that is longer, so a rebuild restores
    /// the occurrences retention keeps (`store::retention`).
    pub fn decided_retention(&self) -> Duration {
        self.retention.max(self.maintenance.outbox)
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&process_env)
    }

    pub fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            bind: BIND.read(vars)?,
            workers: WORKERS.parse(vars)?,
            database_url: DATABASE_URL.read(vars)?,
            db_pool_size: DB_POOL.parse(vars)?,
            consumer_group: GROUP.read(vars)?,
            max_per_second: MAX_PER_SECOND.parse(vars)?,
            retention: maintenance::hours(&RETENTION_HOURS, vars)?,
            maintenance: MaintenanceSettings::from_vars(vars)?,
            admin_token: AdminToken::from_vars(vars)?,
            kafka: KafkaSettings::from_vars(vars)?,
            registry: RegistrySettings::from_vars(vars)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{SETTINGS, SchedulerConfig};

    #[test]
    fn reads_exactly_the_variables_of_its_table() {
        taskflow_platform::config::assert_reads_exactly(
            &SETTINGS[..4],
            &[
                ("DATABASE_URL_SCHEDULER", "postgres://127.0.0.1/scheduler"),
                ("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
                ("SCHEMA_REGISTRY_URL", "http://127.0.0.1:8081"),
            ],
            |vars| SchedulerConfig::from_vars(vars).map(drop),
        );
    }
}
