//! Dead letters, one module for both kinds: records a consumer can never decode (parked by the
//! consumer itself, bytes unchanged, so the partition keeps flowing) and events a service gives
//! up on (a task that failed for good), which go through the outbox (`outbox::enqueue_dead_letter`)
//! and are parked here by the relay. Either way the record lands on
//! `taskflow.deadletter.<consumer group>.v1` with the reason in `taskflow.dlq.reason`.
//!
//! The consumer and the relay call this module, never the reverse: a poisoned record is defined
//! here, not in the consumer, so that dead letters stay below both.

use rdkafka::message::{Header, OwnedHeaders};

use taskflow_schemas::Event;

use crate::codec::DecodeError;
use crate::headers::{self, TraceContext};
use crate::instruments::DEAD_LETTERS;
use crate::producer::{Delivered, EventProducer, PublishError};

pub const REASON: &str = "taskflow.dlq.reason";
pub const SOURCE_TOPIC: &str = "taskflow.dlq.source_topic";
pub const SOURCE_PARTITION: &str = "taskflow.dlq.source_partition";
pub const SOURCE_OFFSET: &str = "taskflow.dlq.source_offset";
pub const CONSUMER_GROUP: &str = "taskflow.dlq.consumer_group";

/// A record that can never be decoded, with its bytes intact for a dead-letter topic.
#[derive(Debug)]
pub struct PoisonRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    pub error: DecodeError,
}

#[derive(Clone)]
pub struct DeadLetters {
    producer: EventProducer,
    topic: String,
    consumer_group: String,
}

impl DeadLetters {
    pub fn new(producer: EventProducer, topic: String, consumer_group: String) -> Self {
        Self {
            producer,
            topic,
            consumer_group,
        }
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Copies the record's key and bytes unchanged and says why and where from in headers.
    pub async fn park(
        &self,
        poison: &PoisonRecord,
        reason: &str,
    ) -> Result<Delivered, PublishError> {
        let partition = poison.partition.to_string();
        let offset = poison.offset.to_string();
        let headers = OwnedHeaders::new_with_capacity(5)
            .insert(Header {
                key: REASON,
                value: Some(reason),
            })
            .insert(Header {
                key: SOURCE_TOPIC,
                value: Some(&poison.topic),
            })
            .insert(Header {
                key: SOURCE_PARTITION,
                value: Some(&partition),
            })
            .insert(Header {
                key: SOURCE_OFFSET,
                value: Some(&offset),
            })
            .insert(Header {
                key: CONSUMER_GROUP,
                value: Some(&self.consumer_group),
            });
        let parked = self
            .producer
            .send_raw(
                &self.topic,
                poison.key.as_deref(),
                poison.payload.as_deref().unwrap_or_default(),
                headers,
            )
            .await?;
        DEAD_LETTERS.with_label_values(&[self.topic.as_str()]).inc();
        Ok(parked)
    }
}

/// Parks `event` on the dead-letter `topic` in its own contract, keyed by its task, with its
/// usual headers (and the trace it belongs to) plus the reason.
pub async fn park_event(
    producer: &EventProducer,
    topic: &str,
    event: &Event,
    reason: &str,
    trace: &TraceContext,
) -> Result<Delivered, PublishError> {
    let payload = producer.encode_for(topic, event).await?;
    let key = event.key().to_string();
    let headers = headers::for_event_in(event, trace).insert(Header {
        key: REASON,
        value: Some(reason),
    });
    let parked = producer
        .send_raw(topic, Some(key.as_bytes()), &payload, headers)
        .await?;
    DEAD_LETTERS.with_label_values(&[topic]).inc();
    Ok(parked)
}
