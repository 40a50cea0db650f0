//! svc-executor settings, from the environment (`.taskflow/dev.env` after `make up`).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `DATABASE_URL_EXECUTOR` | required | this service's own PostgreSQL database |
//! | `TASKFLOW_EXECUTOR_BIND` | `127.0.0.1:18091` | health endpoints (port 0 picks one) |
//! | `TASKFLOW_EXECUTOR_CONCURRENCY` | `16` | attempts running at once per instance |
//! | `TASKFLOW_EXECUTOR_INSTANCE` | `<host>-<pid>` | lease owner name; unique per instance |
//! | `TASKFLOW_BACKOFF_BASE_MS` / `TASKFLOW_BACKOFF_CAP_MS` | `1000` / `60000` | retry backoff (full jitter) |
//! | `TASKFLOW_LEASE_GRACE_MS` | `10000` | added to a task's timeout to form its lease |
//! | `TASKFLOW_DRAIN_MS` | `20000` | on SIGTERM, time for running attempts to finish |
//! | `TASKFLOW_EXECUTOR_POLL_MS` | `1000` | longest sleep of an idle dispatcher (new work wakes it at once by NOTIFY; retries, delayed tasks and expired leases by their due time) |
//! | `TASKFLOW_HTTP_ALLOW_LOOPBACK` / `TASKFLOW_HTTP_ALLOW_PRIVATE` | `false` | let `http` tasks reach loopback / private networks |
//! | `TASKFLOW_HTTP_LOOPBACK_PORTS` | `any` | with loopback allowed: only these ports (`18200-18299,8080`), only by IP literal |
//! | `TASKFLOW_EXECUTOR_GROUP` | `svc-executor` | consumer group of TaskCreated |
//! | `KAFKA_BOOTSTRAP_SERVERS`, `SCHEMA_REGISTRY_URL`, `TASKFLOW_TOPIC_PREFIX`, `TASKFLOW_TASK_PARTITIONS` | | see `taskflow-platform` |

use std::time::Duration;

use taskflow_platform::config::{ConfigError, parsed_or, required};

use crate::handlers::http::LoopbackPorts;
use taskflow_platform::{KafkaSettings, RegistrySettings};

use crate::domain::backoff::Backoff;

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
    pub kafka: KafkaSettings,
    pub registry: RegistrySettings,
}

impl ExecutorConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let default_instance = format!(
            "{}-{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into()),
            std::process::id()
        );
        let concurrency: usize = parsed_or("TASKFLOW_EXECUTOR_CONCURRENCY", 16)?;
        Ok(Self {
            bind: std::env::var("TASKFLOW_EXECUTOR_BIND")
                .unwrap_or_else(|_| "127.0.0.1:18091".into()),
            database_url: required("DATABASE_URL_EXECUTOR")?,
            db_pool_size: concurrency + 4,
            concurrency,
            instance: std::env::var("TASKFLOW_EXECUTOR_INSTANCE").unwrap_or(default_instance),
            backoff: Backoff {
                base: Duration::from_millis(parsed_or("TASKFLOW_BACKOFF_BASE_MS", 1000)?),
                cap: Duration::from_millis(parsed_or("TASKFLOW_BACKOFF_CAP_MS", 60_000)?),
            },
            lease_grace: Duration::from_millis(parsed_or("TASKFLOW_LEASE_GRACE_MS", 10_000)?),
            drain: Duration::from_millis(parsed_or("TASKFLOW_DRAIN_MS", 20_000)?),
            poll: Duration::from_millis(parsed_or("TASKFLOW_EXECUTOR_POLL_MS", 1000)?),
            allow_loopback: parsed_or("TASKFLOW_HTTP_ALLOW_LOOPBACK", false)?,
            loopback_ports: parsed_or("TASKFLOW_HTTP_LOOPBACK_PORTS", LoopbackPorts::Any)?,
            allow_private: parsed_or("TASKFLOW_HTTP_ALLOW_PRIVATE", false)?,
            consumer_group: std::env::var("TASKFLOW_EXECUTOR_GROUP")
                .unwrap_or_else(|_| "svc-executor".into()),
            kafka: KafkaSettings::from_env()?,
            registry: RegistrySettings::from_env()?,
        })
    }
}
