//! svc-tasks settings, from the environment (`.taskflow/dev.env` after `make up`).
//!
//! What it reads is the table [`SETTINGS`] (`svc-tasks --print-config` prints it).

use std::time::Duration;

use taskflow_platform::config::{
    ConfigError, KAFKA_SETTINGS, PROCESS_SETTINGS, REGISTRY_SETTINGS, Setting, Vars, process_env,
};
use taskflow_platform::maintenance::{self, MAINTENANCE_SETTINGS, MaintenanceSettings};
use taskflow_platform::{KafkaSettings, RegistrySettings};

use crate::domain::submission::Policy;

const DATABASE_URL: Setting = Setting::required(
    "DATABASE_URL_TASKS",
    "this service's own PostgreSQL database",
);
const ADMIN_TOKEN: Setting = Setting::required(
    "TASKFLOW_ADMIN_TOKEN",
    "bearer token of /v1/admin/* (at least 16 characters)",
);
const BIND: Setting = Setting::or(
    "TASKFLOW_TASKS_BIND",
    "127.0.0.1:18090",
    "HTTP listen address (port 0 picks one)",
);
const WORKERS: Setting = Setting::or("TASKFLOW_TASKS_WORKERS", "2", "HTTP worker threads");
const DB_POOL: Setting = Setting::or("TASKFLOW_TASKS_DB_POOL", "16", "database connections");
const MAX_BODY_BYTES: Setting = Setting::or(
    "TASKFLOW_MAX_BODY_BYTES",
    "262144",
    "request body cap (413 above); well below Kafka's 1 MiB record limit",
);
const GROUP: Setting = Setting::or(
    "TASKFLOW_TASKS_GROUP",
    "svc-tasks",
    "consumer group following execution events and schedule triggers \
     (its dead-letter topic: taskflow.deadletter.<group>.v1)",
);

const IDEMPOTENCY_HOURS: Setting = Setting::or(
    "TASKFLOW_TASKS_IDEMPOTENCY_HOURS",
    "168",
    "how long an Idempotency-Key is remembered (7 days); a retry after that makes a new task",
);

/// Every variable svc-tasks reads, its own first.
pub const SETTINGS: [&[Setting]; 5] = [
    &[
        DATABASE_URL,
        ADMIN_TOKEN,
        BIND,
        WORKERS,
        DB_POOL,
        MAX_BODY_BYTES,
        GROUP,
        CorsOrigins::SETTING,
        IDEMPOTENCY_HOURS,
    ],
    &MAINTENANCE_SETTINGS,
    &KAFKA_SETTINGS,
    &REGISTRY_SETTINGS,
    &PROCESS_SETTINGS,
];

#[derive(Clone)]
pub struct TasksConfig {
    pub bind: String,
    pub workers: usize,
    pub database_url: String,
    pub db_pool_size: usize,
    pub admin_token: String,
    pub max_body_bytes: usize,
    pub consumer_group: String,
    /// How long an Idempotency-Key is remembered.
    pub idempotency_retention: Duration,
    pub maintenance: MaintenanceSettings,
    pub kafka: KafkaSettings,
    pub registry: RegistrySettings,
    pub policy: Policy,
    pub relay_idle_poll: Duration,
    /// Tests that play the relay themselves turn it off.
    pub run_relay: bool,
}

impl std::fmt::Debug for TasksConfig {
    // The admin token and database password stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TasksConfig")
            .field("bind", &self.bind)
            .field("workers", &self.workers)
            .field("db_pool_size", &self.db_pool_size)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("consumer_group", &self.consumer_group)
            .field("topic_prefix", &self.kafka.topics.prefix())
            .finish_non_exhaustive()
    }
}

/// Origins whose browser pages may call the API (`TASKFLOW_CORS_ORIGINS`), checked: each is
/// `http(s)://host[:port]`, lower case, without path, wildcard or credentials. Empty: none.
///
/// A value of its own next to [`TasksConfig`], given to `Application::build_with_cors`: only
/// the process that serves browsers needs it, and the tests and tools that build `TasksConfig`
/// field by field stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsOrigins(Vec<String>);

impl CorsOrigins {
    pub const SETTING: Setting = Setting::or(
        "TASKFLOW_CORS_ORIGINS",
        "",
        "comma-separated exact origins (scheme://host[:port]) whose pages may call the API \
         with a key; empty: no cross-origin access",
    );

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&process_env)
    }

    pub fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        let value = Self::SETTING.read(vars)?;
        Self::parse(&value).map_err(|reason| ConfigError::Invalid {
            name: Self::SETTING.name,
            value,
            reason,
        })
    }

    /// A comma-separated list; blanks around entries and empty entries are ignored.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(origin)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

/// One origin, lower-cased (browsers send scheme and host in lower case).
fn origin(entry: &str) -> Result<String, String> {
    let origin = entry.to_ascii_lowercase();
    let Some(authority) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return Err(format!(
            "{entry:?} is not an origin: an origin starts with http:// or https://"
        ));
    };
    let valid = !authority.is_empty()
        && authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if valid {
        Ok(origin)
    } else {
        Err(format!(
            "{entry:?} is not an origin: scheme://host[:port] exactly, without path, \
             trailing slash, wildcard or user"
        ))
    }
}

impl TasksConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&process_env)
    }

    pub fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        let admin_token = ADMIN_TOKEN.read(vars)?;
        if admin_token.len() < 16 {
            return Err(ConfigError::Invalid {
                name: ADMIN_TOKEN.name,
                value: "<hidden>".into(),
                reason: "must be at least 16 characters".into(),
            });
        }
        Ok(Self {
            bind: BIND.read(vars)?,
            workers: WORKERS.parse(vars)?,
            database_url: DATABASE_URL.read(vars)?,
            db_pool_size: DB_POOL.parse(vars)?,
            admin_token,
            max_body_bytes: MAX_BODY_BYTES.parse(vars)?,
            consumer_group: GROUP.read(vars)?,
            idempotency_retention: maintenance::hours(&IDEMPOTENCY_HOURS, vars)?,
            maintenance: MaintenanceSettings::from_vars(vars)?,
            kafka: KafkaSettings::from_vars(vars)?,
            registry: RegistrySettings::from_vars(vars)?,
            policy: Policy::default(),
            relay_idle_poll: Duration::from_secs(2),
            run_relay: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{CorsOrigins, SETTINGS, TasksConfig};

    #[test]
    fn reads_exactly_the_variables_of_its_table() {
        taskflow_platform::config::assert_reads_exactly(
            &SETTINGS[..4],
            &[
                ("DATABASE_URL_TASKS", "postgres://127.0.0.1/tasks"),
                ("TASKFLOW_ADMIN_TOKEN", "0123456789abcdef"),
                ("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
                ("SCHEMA_REGISTRY_URL", "http://127.0.0.1:8081"),
            ],
            |vars| {
                TasksConfig::from_vars(vars)?;
                CorsOrigins::from_vars(vars)?;
                Ok(())
            },
        );
    }

    #[test]
    fn cors_origins_are_exact_origins() {
        assert_eq!(
            CorsOrigins::parse("").expect("empty"),
            CorsOrigins::default()
        );
        assert_eq!(
            CorsOrigins::parse(" , ").expect("blank"),
            CorsOrigins::default()
        );
        let parsed = CorsOrigins::parse("http://127.0.0.1:18093, https://Dash.Example.com")
            .expect("two origins");
        assert_eq!(
            parsed.as_slice(),
            ["http://127.0.0.1:18093", "https://dash.example.com"]
        );
        assert!(CorsOrigins::parse("http://[::1]:8080").is_ok());
        for bad in [
            "*",
            "127.0.0.1:18093",
            "http://",
            "http://example.com/",
            "http://example.com/app",
            "http://*.example.com",
            "http://user@example.com",
            "ftp://example.com",
            "null",
        ] {
            assert!(CorsOrigins::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
