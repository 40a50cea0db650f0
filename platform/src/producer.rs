//! Publishing events: idempotent producer, acks from all in-sync replicas, key = entity id.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::util::Timeout;
use taskflow_schemas::Event;

use crate::codec::{EncodeError, EventCodec};
use crate::config::KafkaSettings;
use crate::headers::{self, TraceContext};

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error("not sent: an earlier event of key {key} failed in the same batch")]
    HeldBack { key: String },
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
    delivery_timeout: Duration,
}

impl EventProducer {
    pub fn new(kafka: &KafkaSettings, codec: Arc<EventCodec>) -> Result<Self, KafkaError> {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", &kafka.bootstrap_servers)
            // Idempotence keeps retries from duplicating or reordering records in a partition.
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", "zstd")
            // Short: at low load a record waits little; at high load batches fill while in flight.
            .set("linger.ms", "2")
            .set(
                "delivery.timeout.ms",
                kafka.delivery_timeout.as_millis().to_string(),
            )
            .create()?;
        Ok(Self {
            producer,
            codec,
            delivery_timeout: kafka.delivery_timeout,
        })
    }

    /// How long a record may take to be acknowledged before it is reported failed.
    pub fn delivery_timeout(&self) -> Duration {
        self.delivery_timeout
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

    /// Publishes many events, keeping their order per key: each is encoded and handed to the
    /// producer queue in input order (encoding awaits the registry, so concurrent encodes would
    /// reorder them), then all acknowledgements are awaited together. Once an event of a key
    /// fails before reaching the queue, later events of that key are not sent either, so the
    /// caller can retry them in order. Results come back in input order.
    pub async fn publish_all(&self, events: &[Event]) -> Vec<Result<Delivered, PublishError>> {
        let trace = headers::current_trace();
        let events: Vec<(Event, TraceContext)> =
            events.iter().map(|e| (e.clone(), trace.clone())).collect();
        self.publish_all_traced(&events).await
    }

    /// [`publish_all`](Self::publish_all) with each event's own trace context (outbox rows).
    pub async fn publish_all_traced(
        &self,
        events: &[(Event, TraceContext)],
    ) -> Vec<Result<Delivered, PublishError>> {
        let mut failed_keys = HashSet::new();
        let mut pending = Vec::with_capacity(events.len());
        for (event, trace) in events {
            let key = event.key();
            if failed_keys.contains(&key) {
                pending.push(Err(PublishError::HeldBack {
                    key: key.to_string(),
                }));
                continue;
            }
            let queued = match self.codec.encode(event).await {
                Ok((topic, payload)) => {
                    let key_text = key.to_string();
                    let record = FutureRecord::to(&topic)
                        .key(key_text.as_bytes())
                        .payload(payload.as_slice())
                        .headers(headers::for_event_in(event, trace));
                    self.enqueue(record)
                        .await
                        .map(|future| (topic.clone(), future))
                }
                Err(e) => Err(e.into()),
            };
            if queued.is_err() {
                failed_keys.insert(key);
            }
            pending.push(queued);
        }
        join_all(pending.into_iter().map(|queued| async move {
            let (topic, delivery) = queued?;
            match delivery.await {
                Ok(Ok(d)) => Ok(Delivered {
                    partition: d.partition,
                    offset: d.offset,
                }),
                Ok(Err((source, _))) => Err(PublishError::Kafka { topic, source }),
                Err(_cancelled) => Err(PublishError::Kafka {
                    topic,
                    source: KafkaError::Canceled,
                }),
            }
        }))
        .await
    }

    /// Puts a record on the producer's queue, waiting while the queue is full.
    async fn enqueue(
        &self,
        mut record: FutureRecord<'_, [u8], [u8]>,
    ) -> Result<DeliveryFuture, PublishError> {
        loop {
            match self.producer.send_result(record) {
                Ok(future) => return Ok(future),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((source, back)) => {
                    return Err(PublishError::Kafka {
                        topic: back.topic.to_owned(),
                        source,
                    });
                }
            }
        }
    }

    /// Encodes `event` for `topic` (a dead-letter topic carries the event's own contract).
    pub async fn encode_for(&self, topic: &str, event: &Event) -> Result<Vec<u8>, PublishError> {
        Ok(self.codec.encode_to(topic, event).await?)
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
