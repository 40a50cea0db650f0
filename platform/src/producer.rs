//! Publishing events: idempotent producer, acks from all in-sync replicas, key = entity id.
//!
//! Built on rdkafka's `BaseProducer` with our own polling thread rather than `FutureProducer`:
//! rdkafka 0.39's poll loop rounds the time left down to whole milliseconds and spins through
//! the last one, and `FutureProducer` polls every 100 ms — about 1 % of a core per idle
//! service. Ours polls once a second (the same spin, a tenth as often); delivery reports wake
//! it as soon as they arrive, so publishing is not slower.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::join_all;
use rdkafka::error::KafkaError;
use rdkafka::message::{Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::util::Timeout;
use rdkafka::{ClientConfig, ClientContext};
use taskflow_schemas::Event;
use tokio::sync::oneshot;

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

/// How often the polling thread looks at its stop flag; also how often it spins for <1 ms.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

type Acknowledgement = oneshot::Receiver<Result<Delivered, KafkaError>>;

/// Hands each delivery report to the task awaiting it.
struct Reports;

impl ClientContext for Reports {}

impl ProducerContext for Reports {
    type DeliveryOpaque = Box<oneshot::Sender<Result<Delivered, KafkaError>>>;

    fn delivery(&self, result: &DeliveryResult<'_>, waiting: Self::DeliveryOpaque) {
        let outcome = match result {
            Ok(message) => Ok(Delivered {
                partition: message.partition(),
                offset: message.offset(),
            }),
            Err((error, _)) => Err(error.clone()),
        };
        // The awaiting task may have gone (shutdown): nobody to tell.
        let _ = waiting.send(outcome);
    }
}

struct Polled {
    producer: BaseProducer<Reports>,
    stop: AtomicBool,
}

/// The producer and its polling thread; the thread ends when the last handle is dropped.
struct Handle(Arc<Polled>);

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.stop.store(true, Ordering::Relaxed);
    }
}

#[derive(Clone)]
pub struct EventProducer {
    inner: Arc<Handle>,
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
            // lz4: cheaper on CPU than zstd at this record size. Consumers still read zstd (the rdkafka
            // feature stays on): topics written before hold zstd batches.
            .set("compression.type", "lz4")
            // Short: at low load a record waits little; at high load batches fill while in flight.
            .set("linger.ms", "2")
            .set(
                "reconnect.backoff.max.ms",
                crate::config::KAFKA_RECONNECT_BACKOFF_MAX_MS,
            )
            .set(
                "delivery.timeout.ms",
                kafka.delivery_timeout.as_millis().to_string(),
            )
            .create_with_context(Reports)?;
        let polled = Arc::new(Polled {
            producer,
            stop: AtomicBool::new(false),
        });
        let thread = polled.clone();
        std::thread::Builder::new()
            .name("kafka-producer-poll".into())
            .spawn(move || {
                while !thread.stop.load(Ordering::Relaxed) {
                    thread.producer.poll(POLL_INTERVAL);
                }
            })
            .map_err(|e| KafkaError::ClientCreation(format!("producer polling thread: {e}")))?;
        Ok(Self {
            inner: Arc::new(Handle(polled)),
            codec,
            delivery_timeout: kafka.delivery_timeout,
        })
    }

    fn producer(&self) -> &BaseProducer<Reports> {
        &self.inner.0.producer
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
                    let span = send_span(&topic, event, trace);
                    let carried = span
                        .as_ref()
                        .map_or_else(|| trace.clone(), headers::current_trace_in);
                    self.enqueue(
                        &topic,
                        Some(key_text.as_bytes()),
                        &payload,
                        headers::for_event_in(event, &carried),
                    )
                    .await
                    .map(|ack| (topic.clone(), ack, span))
                }
                Err(e) => Err(e.into()),
            };
            if queued.is_err() {
                failed_keys.insert(key);
            }
            pending.push(queued);
        }
        join_all(pending.into_iter().map(|queued| async move {
            // The send span lasts until the broker answered.
            let (topic, ack, _span) = queued?;
            acknowledged(topic, ack).await
        }))
        .await
    }

    /// Puts a record on the producer's queue, waiting while the queue is full; the receiver
    /// gets the broker's answer.
    async fn enqueue(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: &[u8],
        headers: OwnedHeaders,
    ) -> Result<Acknowledgement, PublishError> {
        let (tx, rx) = oneshot::channel();
        let mut record = BaseRecord::with_opaque_to(topic, Box::new(tx))
            .payload(payload)
            .headers(headers);
        if let Some(key) = key {
            record = record.key(key);
        }
        loop {
            match self.producer().send(record) {
                Ok(()) => return Ok(rx),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((source, _)) => {
                    return Err(PublishError::Kafka {
                        topic: topic.to_owned(),
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
        let ack = self.enqueue(topic, key, payload, headers).await?;
        acknowledged(topic.to_owned(), ack).await
    }

    /// Asks the cluster for its metadata: the broker answers within `timeout` or is not ready.
    pub async fn check_broker(&self, timeout: Duration) -> Result<(), String> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            inner
                .0
                .producer
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
        self.producer().flush(Timeout::After(timeout))
    }
}

/// The producer span of one record (OpenTelemetry messaging semantic conventions v1.27), a
/// child of the trace the event was written in; consumers' `process` spans become its
/// children through the `traceparent` the record carries. None for an event without a trace.
fn send_span(topic: &str, event: &Event, trace: &TraceContext) -> Option<tracing::Span> {
    let traceparent = trace.traceparent.as_deref()?;
    let span = tracing::info_span!(
        "send",
        otel.name = %format!("send {topic}"),
        otel.kind = "producer",
        messaging.system = "kafka",
        messaging.operation.type = "send",
        messaging.destination.name = %topic,
        messaging.message.id = %event.meta().event_id,
        messaging.kafka.message.key = %event.key(),
        event_type = event.kind().name(),
    );
    headers::adopt_trace_context(&span, Some(traceparent), trace.tracestate.as_deref());
    Some(span)
}

async fn acknowledged(topic: String, ack: Acknowledgement) -> Result<Delivered, PublishError> {
    match ack.await {
        Ok(Ok(delivered)) => Ok(delivered),
        Ok(Err(source)) => Err(PublishError::Kafka { topic, source }),
        // The report was dropped unanswered: the producer was purged at shutdown.
        Err(_) => Err(PublishError::Kafka {
            topic,
            source: KafkaError::Canceled,
        }),
    }
}
