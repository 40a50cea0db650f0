//! svc-tasks settings, from the environment (`.taskflow/dev.env` after `make up`).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `DATABASE_URL_TASKS` | required | this service's own PostgreSQL database |
//! | `TASKFLOW_ADMIN_TOKEN` | required | bearer token of `/v1/admin/*` |
//! | `TASKFLOW_TASKS_BIND` | `127.0.0.1:18090` | HTTP listen address (port 0 picks one) |
//! | `TASKFLOW_TASKS_WORKERS` | `2` | HTTP worker threads |
//! | `TASKFLOW_TASKS_DB_POOL` | `16` | database connections |
//! | `TASKFLOW_MAX_BODY_BYTES` | `262144` | request body cap (413 above); well below Kafka's 1 MiB record limit |
//! | `TASKFLOW_TASKS_GROUP` | `svc-tasks` | consumer group following execution events and schedule triggers (its dead-letter topic: `taskflow.deadletter.<group>.v1`) |
//! | `TASKFLOW_CORS_ORIGINS` | empty | comma-separated exact origins (`scheme://host[:port]`, as browsers send them) whose pages may call the API with a key (CORS); empty or unset: no cross-origin access ([`CorsOrigins`]) |
//! | `KAFKA_BOOTSTRAP_SERVERS`, `SCHEMA_REGISTRY_URL`, `TASKFLOW_TOPIC_PREFIX`, `TASKFLOW_TASK_PARTITIONS` | | see `taskflow-platform` |

use std::time::Duration;

use taskflow_platform::config::{ConfigError, parsed_or as parsed, required as var};
use taskflow_platform::{KafkaSettings, RegistrySettings};

use crate::domain::submission::Policy;

#[derive(Clone)]
pub struct TasksConfig {
    pub bind: String,
    pub workers: usize,
    pub database_url: String,
    pub db_pool_size: usize,
    pub admin_token: String,
    pub max_body_bytes: usize,
    pub consumer_group: String,
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
    pub const VAR: &str = "TASKFLOW_CORS_ORIGINS";

    pub fn from_env() -> Result<Self, ConfigError> {
        let value = std::env::var(Self::VAR).unwrap_or_default();
        Self::parse(&value).map_err(|reason| ConfigError::Invalid {
            name: Self::VAR,
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
        let admin_token = var("TASKFLOW_ADMIN_TOKEN")?;
        if admin_token.len() < 16 {
            return Err(ConfigError::Invalid {
                name: "TASKFLOW_ADMIN_TOKEN",
                value: "<hidden>".into(),
                reason: "must be at least 16 characters".into(),
            });
        }
        Ok(Self {
            bind: std::env::var("TASKFLOW_TASKS_BIND").unwrap_or_else(|_| "127.0.0.1:18090".into()),
            workers: parsed("TASKFLOW_TASKS_WORKERS", 2)?,
            database_url: var("DATABASE_URL_TASKS")?,
            db_pool_size: parsed("TASKFLOW_TASKS_DB_POOL", 16)?,
            admin_token,
            max_body_bytes: parsed("TASKFLOW_MAX_BODY_BYTES", 256 * 1024)?,
            consumer_group: std::env::var("TASKFLOW_TASKS_GROUP")
                .unwrap_or_else(|_| "svc-tasks".into()),
            kafka: KafkaSettings::from_env()?,
            registry: RegistrySettings::from_env()?,
            policy: Policy::default(),
            relay_idle_poll: Duration::from_secs(2),
            run_relay: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::CorsOrigins;

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
