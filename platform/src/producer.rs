//! Publishing events: idempotent producer, acks from all in-sync replicas, key = entity id.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use taskflow_schemas::Event;

use crate::codec::{EncodeError, EventCodec};
use crate::config::KafkaSettings;
use crate::headers;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error("broker did not acknowledge the record on {topic}: {source}")]
    Kafka {
        topic: String,
        #[source]
        source: KafkaError,
    },
}

/// Where a record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub partition: i32,
    pub offset: i64,
}

#[derive(Clone)]
pub struct EventProducer {
    producer: FutureProducer,
    codec: Arc<EventCodec>,
}

impl EventProducer {
    pub fn new(kafka: &KafkaSettings, codec: Arc<EventCodec>) -> Result<Self, KafkaError> {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", &kafka.bootstrap_servers)
            // Idempotence keeps retries from duplicating or reordering records in a partition.
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", "zstd")
            .set("linger.ms", "5")
            .set(
                "delivery.timeout.ms",
                kafka.delivery_timeout.as_millis().to_string(),
            )
            .create()?;
        Ok(Self { producer, codec })
    }

    /// Encodes `event`, sends it keyed by its task (or schedule) id, and waits for the broker's
    /// acknowledgement. An `Err` means the event may or may not be on the topic: callers
    /// that must not lose it (the outbox) retry with the same event id.
    #[tracing::instrument(skip_all, fields(event_type = event.kind().name(), event_id = %event.meta().event_id))]
    pub async fn publish(&self, event: &Event) -> Result<Delivered, PublishError> {
        let (topic, payload) = self.codec.encode(event).await?;
        let key = event.key().to_string();
        self.send_raw(
            &topic,
            Some(key.as_bytes()),
            &payload,
            headers::for_event(event),
        )
        .await
    }

    /// Publishes many events concurrently; results come back in input order.
    pub async fn publish_all(&self, events: &[Event]) -> Vec<Result<Delivered, PublishError>> {
        join_all(events.iter().map(|e| self.publish(e))).await
    }

    /// Sends bytes as they are (dead letters, tests).
    pub async fn send_raw(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: &[u8],
        headers: OwnedHeaders,
    ) -> Result<Delivered, PublishError> {
        let mut record = FutureRecord::to(topic).payload(payload).headers(headers);
        if let Some(key) = key {
            record = record.key(key);
        }
        match self.producer.send(record, Timeout::Never).await {
            Ok(delivery) => Ok(Delivered {
                partition: delivery.partition,
                offset: delivery.offset,
            }),
            Err((source, _)) => Err(PublishError::Kafka {
                topic: topic.to_owned(),
                source,
            }),
        }
    }

    /// Asks the cluster for its metadata: the broker answers within `timeout` or is not ready.
    pub async fn check_broker(&self, timeout: Duration) -> Result<(), String> {
        let producer = self.producer.clone();
        tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_metadata(None, Timeout::After(timeout))
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// Waits for in-flight records before shutdown.
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        self.producer.flush(Timeout::After(timeout))
    }
}
