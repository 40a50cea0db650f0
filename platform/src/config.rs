//! Settings read from the environment (`.taskflow/dev.env` sets them for development).
//! Services and tests build these structs; nothing here writes the environment.

use std::time::Duration;

use taskflow_schemas::Topics;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not set (source .taskflow/dev.env after `make up`)")]
    Missing { name: &'static str },
    #[error("{name}={value:?} is not valid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

/// The variable `name`, or a `Missing` error that says how to get it.
pub fn required(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name).map_err(|_| ConfigError::Missing { name })
}

/// The variable `name` parsed, or `default` when unset.
pub fn parsed_or<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(value) => value.parse().map_err(|e: T::Err| ConfigError::Invalid {
            name,
            reason: e.to_string(),
            value,
        }),
    }
}

/// librdkafka's `reconnect.backoff.max.ms` for every TaskFlow client. Its default (10 s) let a
/// consumer sit up to 10 s after a restarted broker was back (`make chaos` kill-kafka: a task
/// waited 8 s to be consumed); one reconnect attempt a second costs nothing.
pub const KAFKA_RECONNECT_BACKOFF_MAX_MS: &str = "1000";

/// Where Kafka is and how TaskFlow lays out its topics on it.
#[derive(Debug, Clone)]
pub struct KafkaSettings {
    pub bootstrap_servers: String,
    /// Prepended to every topic name; isolates deployments and tests sharing a cluster.
    pub topics: Topics,
    pub task_partitions: i32,
    pub replication_factor: i32,
    /// How long the producer keeps retrying one record before reporting failure.
    pub delivery_timeout: Duration,
    /// How long a consumer may go silent before the group coordinator declares it dead and
    /// hands its partitions to the others. Kafka's default (45 s) stalled a killed executor's
    /// partitions for that long; 10 s notices a dead member quickly and still tolerates a
    /// starved process on a busy 2-core machine (6 s is the lowest a stock broker allows,
    /// `group.min.session.timeout.ms`). Heartbeats go every third of it.
    pub session_timeout: Duration,
}

impl KafkaSettings {
    /// `KAFKA_BOOTSTRAP_SERVERS` (required), `TASKFLOW_TOPIC_PREFIX` (default empty),
    /// `TASKFLOW_TASK_PARTITIONS` (default 12), `TASKFLOW_REPLICATION_FACTOR` (default 1),
    /// `KAFKA_DELIVERY_TIMEOUT_MS` (default 30000), `KAFKA_SESSION_TIMEOUT_MS` (default 10000).
    pub fn from_env() -> Result<Self, ConfigError> {
        let task_partitions = parsed_or("TASKFLOW_TASK_PARTITIONS", 12)?;
        if task_partitions < 1 {
            return Err(ConfigError::Invalid {
                name: "TASKFLOW_TASK_PARTITIONS",
                value: task_partitions.to_string(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(Self {
            bootstrap_servers: required("KAFKA_BOOTSTRAP_SERVERS")?,
            topics: Topics::new(std::env::var("TASKFLOW_TOPIC_PREFIX").unwrap_or_default()),
            task_partitions,
            replication_factor: parsed_or("TASKFLOW_REPLICATION_FACTOR", 1)?,
            delivery_timeout: Duration::from_millis(parsed_or(
                "KAFKA_DELIVERY_TIMEOUT_MS",
                30_000,
            )?),
            session_timeout: Duration::from_millis(parsed_or("KAFKA_SESSION_TIMEOUT_MS", 10_000)?),
        })
    }
}

/// The Confluent-compatible schema registry.
#[derive(Debug, Clone)]
pub struct RegistrySettings {
    /// Base URL of the Confluent-compatible API, e.g. `http://127.0.0.1:18081/apis/ccompat/v7`.
    pub url: String,
}

impl RegistrySettings {
    /// `SCHEMA_REGISTRY_URL` (required).
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            url: required("SCHEMA_REGISTRY_URL")?
                .trim_end_matches('/')
                .to_owned(),
        })
    }
}
