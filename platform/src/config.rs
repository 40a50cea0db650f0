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

/// Where a service's settings come from: the process environment in production
/// ([`process_env`]), a recording closure in the tests that check a service reads only what its
/// table lists.
pub type Vars<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment as [`Vars`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// One environment variable a service reads, as data: services read their settings only through
/// these, so `svc-… --print-config` prints exactly what the code reads (checks/compose_check.py
/// holds deploy/.env.example and deploy/compose.yaml to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub name: &'static str,
    /// `None`: the service does not start without it.
    pub default: Option<&'static str>,
    pub meaning: &'static str,
}

impl Setting {
    pub const fn required(name: &'static str, meaning: &'static str) -> Self {
        Self {
            name,
            default: None,
            meaning,
        }
    }

    pub const fn or(name: &'static str, default: &'static str, meaning: &'static str) -> Self {
        Self {
            name,
            default: Some(default),
            meaning,
        }
    }

    /// The value in `vars`, else the default; `Missing` (saying how to get it) when required.
    pub fn read(&self, vars: Vars) -> Result<String, ConfigError> {
        vars(self.name)
            .or_else(|| self.default.map(str::to_owned))
            .ok_or(ConfigError::Missing { name: self.name })
    }

    /// [`Self::read`], parsed (a default is parsed too, so the table's text is the default).
    pub fn parse<T: std::str::FromStr>(&self, vars: Vars) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        let value = self.read(vars)?;
        value.parse().map_err(|e: T::Err| ConfigError::Invalid {
            name: self.name,
            reason: e.to_string(),
            value,
        })
    }
}

/// What every service reads for Kafka ([`KafkaSettings`]).
pub const KAFKA_SETTINGS: [Setting; 7] = [
    KafkaSettings::BOOTSTRAP_SERVERS,
    KafkaSettings::TOPIC_PREFIX,
    KafkaSettings::CREATE_TOPICS,
    KafkaSettings::TASK_PARTITIONS,
    KafkaSettings::REPLICATION_FACTOR,
    KafkaSettings::DELIVERY_TIMEOUT_MS,
    KafkaSettings::SESSION_TIMEOUT_MS,
];

/// What every service reads for the schema registry ([`RegistrySettings`]).
pub const REGISTRY_SETTINGS: [Setting; 1] = [RegistrySettings::URL];

/// Read by `crate::telemetry` and the OpenTelemetry SDK, and the host name an instance's
/// default name starts with.
pub const PROCESS_SETTINGS: [Setting; 5] = [
    Setting::or(
        "RUST_LOG",
        "info",
        "log filter (tracing-subscriber's EnvFilter syntax)",
    ),
    Setting::or(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "",
        "OTLP/HTTP base URL spans are exported to; empty: no export",
    ),
    Setting::or(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "",
        "OTLP/HTTP URL for spans only, instead of the base URL",
    ),
    Setting::or("OTEL_TRACES_EXPORTER", "", "`none` turns span export off"),
    HOSTNAME,
];

/// Set by the container runtime or the shell; part of an instance's default name.
pub const HOSTNAME: Setting =
    Setting::or("HOSTNAME", "local", "host name, part of the instance name");

/// [`HOSTNAME`] of this process.
pub fn host_name() -> String {
    HOSTNAME
        .read(&process_env)
        .unwrap_or_else(|_| "local".into())
}

/// `svc-… --print-config`: when the first argument asks for it, prints `tables` (one line a
/// variable: name, default or `required`, meaning; tab-separated) and returns true.
pub fn print_config_if_asked(service: &str, tables: &[&[Setting]]) -> bool {
    if std::env::args().nth(1).as_deref() != Some("--print-config") {
        return false;
    }
    print!("{}", config_table(service, tables));
    true
}

fn config_table(service: &str, tables: &[&[Setting]]) -> String {
    let mut out = format!(
        "# {service} reads these environment variables (name, default or `required`, meaning)\n"
    );
    for setting in tables.iter().flat_map(|t| t.iter()) {
        let default = setting.default.unwrap_or("required");
        out.push_str(&format!(
            "{}\t{default}\t{}\n",
            setting.name, setting.meaning
        ));
    }
    out
}

/// Test support: runs `read` (a service's `from_vars`) with a recording environment that
/// answers the required variables from `required` and nothing else, and panics unless the
/// variables it asked for are exactly the names in `tables`.
pub fn assert_reads_exactly(
    tables: &[&[Setting]],
    required: &[(&str, &str)],
    read: impl FnOnce(Vars) -> Result<(), ConfigError>,
) {
    let asked = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let vars = |name: &str| {
        asked.borrow_mut().insert(name.to_owned());
        required
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    };
    if let Err(error) = read(&vars) {
        panic!("the settings did not read with only the required variables set: {error}");
    }
    let listed: std::collections::BTreeSet<String> = tables
        .iter()
        .flat_map(|t| t.iter())
        .map(|s| s.name.to_owned())
        .collect();
    let asked = asked.into_inner();
    let unlisted: Vec<_> = asked.difference(&listed).collect();
    let unread: Vec<_> = listed.difference(&asked).collect();
    assert!(
        unlisted.is_empty() && unread.is_empty(),
        "read but not in the table: {unlisted:?}; in the table but never read: {unread:?}"
    );
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
    /// Whether a starting service creates its topics (the default). Off where they are managed
    /// outside TaskFlow (Strimzi `KafkaTopic`s, a platform team that grants no create rights):
    /// the service then only checks that they exist and refuses to start when one does not,
    /// instead of creating it with settings nobody chose.
    pub create_topics: bool,
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
    pub const BOOTSTRAP_SERVERS: Setting = Setting::required(
        "KAFKA_BOOTSTRAP_SERVERS",
        "Kafka brokers, host:port[,host:port]",
    );
    pub const TOPIC_PREFIX: Setting = Setting::or(
        "TASKFLOW_TOPIC_PREFIX",
        "",
        "prepended to every topic name (isolates deployments sharing a cluster)",
    );
    pub const CREATE_TOPICS: Setting = Setting::or(
        "TASKFLOW_CREATE_TOPICS",
        "true",
        "false: topics are managed outside TaskFlow (e.g. Strimzi KafkaTopic); a service only checks at start that they exist",
    );
    pub const TASK_PARTITIONS: Setting = Setting::or(
        "TASKFLOW_TASK_PARTITIONS",
        "12",
        "partitions of the task topics when TaskFlow creates them",
    );
    pub const REPLICATION_FACTOR: Setting = Setting::or(
        "TASKFLOW_REPLICATION_FACTOR",
        "1",
        "replication factor of the topics TaskFlow creates",
    );
    pub const DELIVERY_TIMEOUT_MS: Setting = Setting::or(
        "KAFKA_DELIVERY_TIMEOUT_MS",
        "30000",
        "how long the producer retries one record before reporting failure",
    );
    pub const SESSION_TIMEOUT_MS: Setting = Setting::or(
        "KAFKA_SESSION_TIMEOUT_MS",
        "10000",
        "a silent consumer's partitions go to the others after this long",
    );

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&process_env)
    }

    pub fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        let task_partitions: i32 = Self::TASK_PARTITIONS.parse(vars)?;
        if task_partitions < 1 {
            return Err(ConfigError::Invalid {
                name: Self::TASK_PARTITIONS.name,
                value: task_partitions.to_string(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(Self {
            bootstrap_servers: Self::BOOTSTRAP_SERVERS.read(vars)?,
            topics: Topics::new(Self::TOPIC_PREFIX.read(vars)?),
            create_topics: Self::CREATE_TOPICS.parse(vars)?,
            task_partitions,
            replication_factor: Self::REPLICATION_FACTOR.parse(vars)?,
            delivery_timeout: Duration::from_millis(Self::DELIVERY_TIMEOUT_MS.parse(vars)?),
            session_timeout: Duration::from_millis(Self::SESSION_TIMEOUT_MS.parse(vars)?),
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
    pub const URL: Setting = Setting::required(
        "SCHEMA_REGISTRY_URL",
        "Confluent-compatible API of the schema registry",
    );

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&process_env)
    }

    pub fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            url: Self::URL.read(vars)?.trim_end_matches('/').to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setting_reads_its_variable_then_its_default_and_names_a_missing_one() {
        let vars = |name: &str| (name == "SET").then(|| "7".to_owned());
        assert_eq!(
            Setting::or("SET", "1", "").parse::<u32>(&vars).ok(),
            Some(7)
        );
        assert_eq!(
            Setting::or("UNSET", "1", "").parse::<u32>(&vars).ok(),
            Some(1)
        );
        assert!(matches!(
            Setting::required("UNSET", "").read(&vars),
            Err(ConfigError::Missing { name: "UNSET" })
        ));
        assert!(matches!(
            Setting::or("SET", "1", "").parse::<bool>(&vars),
            Err(ConfigError::Invalid { name: "SET", .. })
        ));
    }

    #[test]
    fn the_platform_tables_are_what_kafka_and_registry_settings_read() {
        assert_reads_exactly(
            &[&KAFKA_SETTINGS, &REGISTRY_SETTINGS],
            &[
                ("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
                ("SCHEMA_REGISTRY_URL", "http://127.0.0.1:8081/"),
            ],
            |vars| {
                KafkaSettings::from_vars(vars)?;
                assert_eq!(
                    RegistrySettings::from_vars(vars)?.url,
                    "http://127.0.0.1:8081"
                );
                Ok(())
            },
        );
    }

    #[test]
    fn services_create_their_topics_unless_told_they_are_managed_elsewhere() {
        let with = |value: Option<&str>| {
            let vars = move |name: &str| match name {
                "KAFKA_BOOTSTRAP_SERVERS" => Some("127.0.0.1:9092".to_owned()),
                "TASKFLOW_CREATE_TOPICS" => value.map(str::to_owned),
                _ => None,
            };
            KafkaSettings::from_vars(&vars).map(|k| k.create_topics)
        };
        assert_eq!(with(None).ok(), Some(true));
        assert_eq!(with(Some("false")).ok(), Some(false));
        assert_eq!(with(Some("true")).ok(), Some(true));
        assert!(matches!(
            with(Some("no")),
            Err(ConfigError::Invalid {
                name: "TASKFLOW_CREATE_TOPICS",
                ..
            })
        ));
    }

    #[test]
    fn the_printed_table_is_one_tab_separated_line_a_variable() {
        let table = config_table("svc-x", &[&KAFKA_SETTINGS[..1], &[HOSTNAME]]);
        assert_eq!(
            table.lines().skip(1).collect::<Vec<_>>(),
            [
                "KAFKA_BOOTSTRAP_SERVERS\trequired\tKafka brokers, host:port[,host:port]",
                "HOSTNAME\tlocal\thost name, part of the instance name",
            ]
        );
    }
}
