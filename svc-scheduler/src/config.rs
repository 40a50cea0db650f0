//! svc-scheduler settings, from the environment (`.taskflow/dev.env` after `make up`).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `DATABASE_URL_SCHEDULER` | required | this service's own PostgreSQL database |
//! | `TASKFLOW_SCHEDULER_BIND` | `127.0.0.1:18096` | HTTP listen address (port 0 picks one) |
//! | `TASKFLOW_SCHEDULER_WORKERS` | `2` | HTTP worker threads |
//! | `TASKFLOW_SCHEDULER_DB_POOL` | `8` | database connections |
//! | `TASKFLOW_SCHEDULER_GROUP` | `svc-scheduler` | consumer group following keys and task endings |
//! | `TASKFLOW_SCHEDULER_MAX_PER_SECOND` | `1` | most fires per second one schedule may ask for |
//! | `KAFKA_BOOTSTRAP_SERVERS`, `SCHEMA_REGISTRY_URL`, `TASKFLOW_TOPIC_PREFIX`, `TASKFLOW_TASK_PARTITIONS` | | see `taskflow-platform` |

use taskflow_platform::config::{ConfigError, parsed_or as parsed, required as var};
use taskflow_platform::{KafkaSettings, RegistrySettings};

#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    pub bind: String,
    pub workers: usize,
    pub database_url: String,
    pub db_pool_size: usize,
    pub consumer_group: String,
    pub max_per_second: f64,
    pub kafka: KafkaSettings,
    pub registry: RegistrySettings,
}

impl SchedulerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            bind: std::env::var("TASKFLOW_SCHEDULER_BIND")
                .unwrap_or_else(|_| "127.0.0.1:18096".into()),
            workers: parsed("TASKFLOW_SCHEDULER_WORKERS", 2)?,
            database_url: var("DATABASE_URL_SCHEDULER")?,
            db_pool_size: parsed("TASKFLOW_SCHEDULER_DB_POOL", 8)?,
            consumer_group: std::env::var("TASKFLOW_SCHEDULER_GROUP")
                .unwrap_or_else(|_| "svc-scheduler".into()),
            max_per_second: parsed("TASKFLOW_SCHEDULER_MAX_PER_SECOND", 1.0)?,
            kafka: KafkaSettings::from_env()?,
            registry: RegistrySettings::from_env()?,
        })
    }
}
