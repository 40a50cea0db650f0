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
//! | `TASKFLOW_TASKS_GROUP` | `svc-tasks` | consumer group following execution events |
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
