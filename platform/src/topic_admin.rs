//! Creating TaskFlow's topics with the configured partition count.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use taskflow_schemas::Stream;

use crate::config::KafkaSettings;

#[derive(Debug, thiserror::Error)]
pub enum TopicAdminError {
    #[error("cannot reach Kafka admin API: {0}")]
    Client(#[from] KafkaError),
    #[error("creating topic {topic} failed: {code}")]
    Create {
        topic: String,
        code: RDKafkaErrorCode,
    },
}

/// Creates every stream's topic (and any `extra` topics) unless it exists already.
/// Existing topics keep their partition count: changing it would move keys between partitions.
pub async fn ensure_topics(kafka: &KafkaSettings, extra: &[String]) -> Result<(), TopicAdminError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &kafka.bootstrap_servers)
        .create()?;
    let mut names: Vec<(String, bool)> = Stream::ALL
        .iter()
        .map(|s| (kafka.topics.name(*s), s.is_compacted()))
        .collect();
    names.extend(extra.iter().map(|name| (name.clone(), false)));
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
