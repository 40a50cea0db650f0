//! svc-notify settings, from the environment (`.taskflow/dev.env` after `make up`).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `DATABASE_URL_NOTIFY` | required | this service's own PostgreSQL database |
//! | `TASKFLOW_NOTIFY_BIND` | `127.0.0.1:18095` | HTTP listen address (port 0 picks one) |
//! | `TASKFLOW_NOTIFY_WORKERS` | `2` | HTTP worker threads |
//! | `TASKFLOW_NOTIFY_DB_POOL` | `16` | database connections |
//! | `TASKFLOW_NOTIFY_GROUP` | `svc-notify` | consumer group following tasks, lifecycle and key events |
//! | `TASKFLOW_NOTIFY_RETENTION_HOURS` | `168` | how long notification history is kept (7 days) |
//! | `TASKFLOW_NOTIFY_KEEPALIVE_SECS` | `15` | SSE comment / WebSocket ping interval on a quiet stream |
//! | `TASKFLOW_NOTIFY_CLIENT_BUFFER` | `1024` | notifications a client may fall behind before it is cut off (it resumes from history) |
//! | `TASKFLOW_NOTIFY_MAX_CONNECTIONS` | `25000` | open connections per worker |
//! | `TASKFLOW_API_URL` | `http://127.0.0.1:18090` | svc-tasks as the browser reaches it (the dashboard's cancel and submit go there) |
//! | `KAFKA_BOOTSTRAP_SERVERS`, `SCHEMA_REGISTRY_URL`, `TASKFLOW_TOPIC_PREFIX`, `TASKFLOW_TASK_PARTITIONS` | | see `taskflow-platform` |

use std::time::Duration;

use taskflow_platform::config::{ConfigError, parsed_or as parsed, required as var};
use taskflow_platform::{KafkaSettings, RegistrySettings};

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
    pub kafka: KafkaSettings,
    pub registry: RegistrySettings,
    /// How often history is pruned.
    pub prune_every: Duration,
}

impl NotifyConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let retention_hours: u64 = parsed("TASKFLOW_NOTIFY_RETENTION_HOURS", 168)?;
        let keepalive_secs: u64 = parsed("TASKFLOW_NOTIFY_KEEPALIVE_SECS", 15)?;
        let client_buffer: usize = parsed("TASKFLOW_NOTIFY_CLIENT_BUFFER", 1024)?;
        if keepalive_secs == 0 || client_buffer == 0 {
            return Err(ConfigError::Invalid {
                name: "TASKFLOW_NOTIFY_KEEPALIVE_SECS / TASKFLOW_NOTIFY_CLIENT_BUFFER",
                value: format!("{keepalive_secs} / {client_buffer}"),
                reason: "must be at least 1".into(),
            });
        }
        Ok(Self {
            bind: std::env::var("TASKFLOW_NOTIFY_BIND")
                .unwrap_or_else(|_| "127.0.0.1:18095".into()),
            workers: parsed("TASKFLOW_NOTIFY_WORKERS", 2)?,
            database_url: var("DATABASE_URL_NOTIFY")?,
            db_pool_size: parsed("TASKFLOW_NOTIFY_DB_POOL", 16)?,
            consumer_group: std::env::var("TASKFLOW_NOTIFY_GROUP")
                .unwrap_or_else(|_| "svc-notify".into()),
            retention: Duration::from_secs(retention_hours * 3600),
            keepalive: Duration::from_secs(keepalive_secs),
            client_buffer,
            max_connections: parsed("TASKFLOW_NOTIFY_MAX_CONNECTIONS", 25_000)?,
            tasks_api_url: std::env::var("TASKFLOW_API_URL")
                .unwrap_or_else(|_| "http://127.0.0.1:18090".into()),
            kafka: KafkaSettings::from_env()?,
            registry: RegistrySettings::from_env()?,
            prune_every: Duration::from_secs(60),
        })
    }
}
