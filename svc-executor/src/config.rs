//! svc-executor settings, from the environment (`.taskflow/dev.env` after `make up`).
//!
//! What it reads is the table [`SETTINGS`] (`svc-executor --print-config` prints it).

use std::time::Duration;

use taskflow_platform::config::{
    ConfigError, HOSTNAME, KAFKA_SETTINGS, PROCESS_SETTINGS, REGISTRY_SETTINGS, Setting, Vars,
    process_env,
};

use crate::handlers::http::LoopbackPorts;
use taskflow_platform::maintenance::{self, MAINTENANCE_SETTINGS, MaintenanceSettings};
use taskflow_platform::{KafkaSettings, RegistrySettings};

use crate::domain::backoff::Backoff;
use taskflow_platform::rebuild::{ADMIN_TOKEN, AdminToken};

const DATABASE_URL: Setting = Setting::required(
    "DATABASE_URL_EXECUTOR",
    "this service's own PostgreSQL database",
);
const BIND: Setting = Setting::or(
    "TASKFLOW_EXECUTOR_BIND",
    "127.0.0.1:18091",
    "health endpoints (port 0 picks one)",
);
const CONCURRENCY: Setting = Setting::or(
    "TASKFLOW_EXECUTOR_CONCURRENCY",
    "16",
    "attempts running at once per instance",
);
/// Its default, `<HOSTNAME>-<pid>`, is made in code; empty here means "not set".
const INSTANCE: Setting = Setting::or(
    "TASKFLOW_EXECUTOR_INSTANCE",
    "",
    "lease owner name, unique per instance; empty: <HOSTNAME>-<pid>",
);
const BACKOFF_BASE_MS: Setting = Setting::or(
    "TASKFLOW_BACKOFF_BASE_MS",
    "1000",
    "retry backoff base (full jitter)",
);
const BACKOFF_CAP_MS: Setting = Setting::or(
    "TASKFLOW_BACKOFF_CAP_MS",
    "60000",
    "retry backoff cap (full jitter)",
);
const LEASE_GRACE_MS: Setting = Setting::or(
    "TASKFLOW_LEASE_GRACE_MS",
    "10000",
    "added to a task's timeout to form its lease",
);
const DRAIN_MS: Setting = Setting::or(
    "TASKFLOW_DRAIN_MS",
    "20000",
    "on SIGTERM, time for running attempts to finish",
);
const POLL_MS: Setting = Setting::or(
    "TASKFLOW_EXECUTOR_POLL_MS",
    "1000",
    "longest sleep of an idle dispatcher (new work wakes it at once by NOTIFY; retries, \
     delayed tasks and expired leases by their due time)",
);
const ALLOW_LOOPBACK: Setting = Setting::or(
    "TASKFLOW_HTTP_ALLOW_LOOPBACK",
    "false",
    "let http tasks reach loopback addresses",
);
const LOOPBACK_PORTS: Setting = Setting::or(
    "TASKFLOW_HTTP_LOOPBACK_PORTS",
    "any",
    "with loopback allowed: only these ports (18200-18299,8080), only by IP literal",
);
const ALLOW_PRIVATE: Setting = Setting::or(
    "TASKFLOW_HTTP_ALLOW_PRIVATE",
    "false",
    "let http tasks reach private networks",
);
const GROUP: Setting = Setting::or(
    "TASKFLOW_EXECUTOR_GROUP",
    "svc-executor",
    "consumer group of TaskCreated",
);

const RETENTION_HOURS: Setting = Setting::or(
    "TASKFLOW_EXECUTOR_RETENTION_HOURS",
    "168",
    "how long ended executions and their attempts are kept (7 days)",
);

/// Every variable svc-executor reads, its own first.
pub const SETTINGS: [&[Setting]; 5] = [
    &[
        DATABASE_URL,
        BIND,
        CONCURRENCY,
        INSTANCE,
        BACKOFF_BASE_MS,
        BACKOFF_CAP_MS,
        LEASE_GRACE_MS,
        DRAIN_MS,
        POLL_MS,
        ALLOW_LOOPBACK,
        LOOPBACK_PORTS,
        ALLOW_PRIVATE,
        GROUP,
        RETENTION_HOURS,
        ADMIN_TOKEN,
    ],
    &MAINTENANCE_SETTINGS,
    &KAFKA_SETTINGS,
    &REGISTRY_SETTINGS,
    &PROCESS_SETTINGS,
];

#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    pub bind: String,
    pub database_url: String,
    pub db_pool_size: usize,
    pub concurrency: usize,
    pub instance: String,
    pub backoff: Backoff,
    pub lease_grace: Duration,
    pub drain: Duration,
    pub poll: Duration,
    pub allow_loopback: bool,
    pub loopback_ports: LoopbackPorts,
    pub allow_private: bool,
    pub consumer_group: String,
    /// How long ended executions are kept.
    pub retention: Duration,
    /// The operator's token for the admin endpoints (none: they are off); hidden from Debug.
    pub admin_token: AdminToken,
    pub maintenance: MaintenanceSettings,
    pub kafka: KafkaSettings,
    pub registry: RegistrySettings,
}

impl ExecutorConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&process_env)
    }

    pub fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        let concurrency: usize = CONCURRENCY.parse(vars)?;
        let instance = match INSTANCE.read(vars)? {
            named if !named.is_empty() => named,
            _ => format!("{}-{}", HOSTNAME.read(vars)?, std::process::id()),
        };
        Ok(Self {
            bind: BIND.read(vars)?,
            database_url: DATABASE_URL.read(vars)?,
            db_pool_size: concurrency + 4,
            concurrency,
            instance,
            backoff: Backoff {
                base: Duration::from_millis(BACKOFF_BASE_MS.parse(vars)?),
                cap: Duration::from_millis(BACKOFF_CAP_MS.parse(vars)?),
            },
            lease_grace: Duration::from_millis(LEASE_GRACE_MS.parse(vars)?),
            drain: Duration::from_millis(DRAIN_MS.parse(vars)?),
            poll: Duration::from_millis(POLL_MS.parse(vars)?),
            allow_loopback: ALLOW_LOOPBACK.parse(vars)?,
            loopback_ports: LOOPBACK_PORTS.parse::<LoopbackPorts>(vars)?,
            allow_private: ALLOW_PRIVATE.parse(vars)?,
            consumer_group: GROUP.read(vars)?,
            retention: maintenance::hours(&RETENTION_HOURS, vars)?,
            admin_token: AdminToken::from_vars(vars)?,
            maintenance: MaintenanceSettings::from_vars(vars)?,
            kafka: KafkaSettings::from_vars(vars)?,
            registry: RegistrySettings::from_vars(vars)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{ExecutorConfig, HOSTNAME, SETTINGS};

    #[test]
    fn reads_exactly_the_variables_of_its_table() {
        taskflow_platform::config::assert_reads_exactly(
            &[
                SETTINGS[0],
                SETTINGS[1],
                SETTINGS[2],
                SETTINGS[3],
                &[HOSTNAME],
            ],
            &[
                ("DATABASE_URL_EXECUTOR", "postgres://127.0.0.1/executor"),
                ("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
                ("SCHEMA_REGISTRY_URL", "http://127.0.0.1:8081"),
            ],
            |vars| {
                let config = ExecutorConfig::from_vars(vars)?;
                assert!(config.instance.starts_with("local-"), "{}", config.instance);
                Ok(())
            },
        );
    }
}
