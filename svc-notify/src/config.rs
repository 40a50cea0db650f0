//! svc-notify settings, from the environment (`.taskflow/dev.env` after `make up`).
//!
//! What it reads is the table [`SETTINGS`] (`svc-notify --print-config` prints it).

use std::time::Duration;

use taskflow_platform::config::{
    ConfigError, KAFKA_SETTINGS, PROCESS_SETTINGS, REGISTRY_SETTINGS, Setting, Vars, process_env,
};
use taskflow_platform::maintenance::{self, MAINTENANCE_SETTINGS, MaintenanceSettings};
use taskflow_platform::rebuild::{ADMIN_TOKEN, AdminToken};
use taskflow_platform::{KafkaSettings, RegistrySettings};

const DATABASE_URL: Setting = Setting::required(
    "DATABASE_URL_NOTIFY",
    "this service's own PostgreSQL database",
);
const BIND: Setting = Setting::or(
    "TASKFLOW_NOTIFY_BIND",
    "127.0.0.1:18095",
    "HTTP listen address (port 0 picks one)",
);
const WORKERS: Setting = Setting::or("TASKFLOW_NOTIFY_WORKERS", "2", "HTTP worker threads");
const DB_POOL: Setting = Setting::or("TASKFLOW_NOTIFY_DB_POOL", "16", "database connections");
const GROUP: Setting = Setting::or(
    "TASKFLOW_NOTIFY_GROUP",
    "svc-notify",
    "consumer group following tasks, lifecycle and key events",
);
const RETENTION_HOURS: Setting = Setting::or(
    "TASKFLOW_NOTIFY_RETENTION_HOURS",
    "168",
    "how long notification history is kept (7 days)",
);
const KEEPALIVE_SECS: Setting = Setting::or(
    "TASKFLOW_NOTIFY_KEEPALIVE_SECS",
    "15",
    "SSE comment / WebSocket ping interval on a quiet stream",
);
const CLIENT_BUFFER: Setting = Setting::or(
    "TASKFLOW_NOTIFY_CLIENT_BUFFER",
    "1024",
    "notifications a client may fall behind before it is cut off (it resumes from history)",
);
const MAX_CONNECTIONS: Setting = Setting::or(
    "TASKFLOW_NOTIFY_MAX_CONNECTIONS",
    "25000",
    "open connections per worker",
);
const API_URL: Setting = Setting::or(
    "TASKFLOW_API_URL",
    "http://127.0.0.1:18090",
    "svc-tasks as the browser reaches it (the dashboard's cancel and submit go there)",
);

/// Every variable svc-notify reads, its own first.
pub const SETTINGS: [&[Setting]; 5] = [
    &[
        DATABASE_URL,
        BIND,
        WORKERS,
        DB_POOL,
        GROUP,
        RETENTION_HOURS,
        KEEPALIVE_SECS,
        CLIENT_BUFFER,
        MAX_CONNECTIONS,
        API_URL,
        ADMIN_TOKEN,
    ],
    &MAINTENANCE_SETTINGS,
    &KAFKA_SETTINGS,
    &REGISTRY_SETTINGS,
    &PROCESS_SETTINGS,
];

#[derive(Debug, Clone)]
pub struct NotifyConfig {
    pub bind: String,
    pub workers: usize,
    pub database_url: String,
    pub db_pool_size: usize,
    pub consumer_group: String,
    pub retention: Duration,
    pub keepalive: Duration,
    pub client_buffer: usize,
    pub max_connections: usize,
    pub tasks_api_url: String,
    /// The operator's token for the admin routes; none configured: they answer 403.
    pub admin_token: AdminToken,
    pub kafka: KafkaSettings,
    pub registry: RegistrySettings,
    /// The maintenance room's round and the inbox's retention.
    pub maintenance: MaintenanceSettings,
}

impl NotifyConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&process_env)
    }

    pub fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        let keepalive_secs: u64 = KEEPALIVE_SECS.parse(vars)?;
        let client_buffer: usize = CLIENT_BUFFER.parse(vars)?;
        if keepalive_secs == 0 || client_buffer == 0 {
            return Err(ConfigError::Invalid {
                name: "TASKFLOW_NOTIFY_KEEPALIVE_SECS / TASKFLOW_NOTIFY_CLIENT_BUFFER",
                value: format!("{keepalive_secs} / {client_buffer}"),
                reason: "must be at least 1".into(),
            });
        }
        Ok(Self {
            bind: BIND.read(vars)?,
            workers: WORKERS.parse(vars)?,
            database_url: DATABASE_URL.read(vars)?,
            db_pool_size: DB_POOL.parse(vars)?,
            consumer_group: GROUP.read(vars)?,
            retention: maintenance::hours(&RETENTION_HOURS, vars)?,
            keepalive: Duration::from_secs(keepalive_secs),
            client_buffer,
            max_connections: MAX_CONNECTIONS.parse(vars)?,
            tasks_api_url: API_URL.read(vars)?,
            admin_token: AdminToken::from_vars(vars)?,
            kafka: KafkaSettings::from_vars(vars)?,
            registry: RegistrySettings::from_vars(vars)?,
            maintenance: MaintenanceSettings::from_vars(vars)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{NotifyConfig, SETTINGS};

    #[test]
    fn reads_exactly_the_variables_of_its_table() {
        taskflow_platform::config::assert_reads_exactly(
            &SETTINGS[..4],
            &[
                ("DATABASE_URL_NOTIFY", "postgres://127.0.0.1/notify"),
                ("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
                ("SCHEMA_REGISTRY_URL", "http://127.0.0.1:8081"),
            ],
            |vars| NotifyConfig::from_vars(vars).map(drop),
        );
    }
}
