//! TaskFlow's topics: created with the configured partition count, or, where they are managed
//! outside TaskFlow (`TASKFLOW_CREATE_TOPICS=false`: Strimzi `KafkaTopic`s, a platform team),
//! only looked up.

use std::collections::HashSet;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::types::RDKafkaRespErr;
use taskflow_schemas::Stream;

use crate::config::{KAFKA_RECONNECT_BACKOFF_MAX_MS, KafkaSettings};

/// How long one look-up of the cluster's topics may take. Bounded because a service that
/// verifies its topics makes its first attempt before it starts: a broker that is down delays
/// the start by this much, and the service then starts and keeps trying in the background.
pub const VERIFY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum TopicAdminError {
    #[error("cannot reach Kafka admin API: {0}")]
    Client(#[from] KafkaError),
    #[error("creating topic {topic} failed: {code}")]
    Create {
        topic: String,
        code: RDKafkaErrorCode,
    },
    /// Said as one line: an operator reads it in a crash-looping pod's log.
    #[error(
        "{} of TaskFlow's topics do not exist on Kafka ({bootstrap}): {}; TASKFLOW_CREATE_TOPICS=false, so this service does not create them: create them (the Helm chart's strimzi.topics, or kafka-topics.sh) or set TASKFLOW_CREATE_TOPICS=true",
        .topics.len(),
        .topics.join(", ")
    )]
    Missing {
        topics: Vec<String>,
        bootstrap: String,
    },
}

/// Every stream's topic and the `extra` ones (dead-letter topics), each with whether it is
/// compacted.
fn needed(kafka: &KafkaSettings, extra: &[String]) -> Vec<(String, bool)> {
    let mut names: Vec<(String, bool)> = Stream::ALL
        .iter()
        .map(|s| (kafka.topics.name(*s), s.is_compacted()))
        .collect();
    names.extend(extra.iter().map(|name| (name.clone(), false)));
    names
}

/// What a starting service does with its topics: creates them (`create_topics`, the default),
/// or only checks that they exist.
pub async fn prepare_topics(
    kafka: &KafkaSettings,
    extra: &[String],
) -> Result<(), TopicAdminError> {
    if kafka.create_topics {
        ensure_topics(kafka, extra).await
    } else {
        verify_topics(kafka, extra).await
    }
}

/// Creates every stream's topic (and any `extra` topics) unless it exists already.
/// Existing topics keep their partition count: changing it would move keys between partitions.
pub async fn ensure_topics(kafka: &KafkaSettings, extra: &[String]) -> Result<(), TopicAdminError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &kafka.bootstrap_servers)
        .create()?;
    let names = needed(kafka, extra);
    let new_topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|(name, compacted)| {
            let replication = TopicReplication::Fixed(kafka.replication_factor);
            let topic = NewTopic::new(name, kafka.task_partitions, replication);
            if *compacted {
                topic.set("cleanup.policy", "compact")
            } else {
                topic
            }
        })
        .collect();
    let options = AdminOptions::new()
        .operation_timeout(Some(Duration::from_secs(30)))
        .request_timeout(Some(Duration::from_secs(10)));
    for result in admin.create_topics(&new_topics, &options).await? {
        match result {
            Ok(_) => {}
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(TopicAdminError::Create { topic, code }),
        }
    }
    Ok(())
}

/// Checks that every stream's topic and the `extra` ones exist, creating none: `Missing` names
/// those that do not. Their partitions and settings are the operator's to choose.
pub async fn verify_topics(kafka: &KafkaSettings, extra: &[String]) -> Result<(), TopicAdminError> {
    let existing = existing_topics(&kafka.bootstrap_servers, VERIFY_TIMEOUT).await?;
    let missing: Vec<String> = needed(kafka, extra)
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| !existing.contains(name))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(TopicAdminError::Missing {
            topics: missing,
            bootstrap: kafka.bootstrap_servers.clone(),
        })
    }
}

/// The names of the topics the cluster has, from one metadata request for all topics. Asking
/// for all rather than for TaskFlow's by name: a request naming a topic lets a broker with
/// `auto.create.topics.enable` create it, which is what a service told not to create topics
/// must never cause.
pub async fn existing_topics(
    bootstrap: &str,
    timeout: Duration,
) -> Result<HashSet<String>, KafkaError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("reconnect.backoff.max.ms", KAFKA_RECONNECT_BACKOFF_MAX_MS)
        .create()?;
    // librdkafka's metadata call blocks its thread until the answer or the timeout.
    tokio::task::spawn_blocking(move || {
        let metadata = admin.inner().fetch_metadata(None, timeout)?;
        Ok(metadata
            .topics()
            .iter()
            .filter(|t| t.error() != Some(RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART))
            .map(|t| t.name().to_owned())
            .collect())
    })
    .await
    .map_err(|_| KafkaError::Canceled)?
}
