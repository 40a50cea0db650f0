//! Consuming events in batches with at-least-once delivery.
//!
//! Offsets are *stored* only after the handler has made a batch's effect durable, and librdkafka
//! commits stored offsets in the background and when partitions are revoked. A record whose
//! partition was revoked mid-batch cannot be stored by us; its new owner gets it again, which the
//! handler's dedupe (by event id, in the same transaction as the effect) makes harmless.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::statistics::Statistics;
use rdkafka::{ClientConfig, ClientContext};
use taskflow_schemas::Event;
use tokio::time::{Instant, sleep, timeout_at};
use tracing::Instrument;

use crate::codec::EventCodec;
use crate::config::KafkaSettings;
use crate::dead_letter::DeadLetters;
pub use crate::dead_letter::PoisonRecord;
use crate::headers;
use crate::instruments::{CONSUMER_LAG, EVENTS_CONSUMED};

/// A batch at least this large means load is high: the next one lingers to fill up.
const BUSY_BATCH: usize = 16;
/// How long a closing consumer waits for the group to take its partitions back.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    pub group_id: String,
    pub topics: Vec<String>,
    /// Most records handed to the handler at once.
    pub max_batch: usize,
    /// How long to wait for more records once one has arrived, when the previous batch was
    /// large (load is high, so waiting fills the batch); after a small batch only the records
    /// already fetched are taken, so a lone record is not delayed.
    pub batch_linger: Duration,
    /// Backoff between retries of a failing handler, doubling up to `retry_max`.
    pub retry_initial: Duration,
    pub retry_max: Duration,
}

impl ConsumerSettings {
    pub fn new(group_id: impl Into<String>, topics: Vec<String>) -> Self {
        Self {
            group_id: group_id.into(),
            topics,
            max_batch: 500,
            batch_linger: Duration::from_millis(10),
            retry_initial: Duration::from_millis(100),
            retry_max: Duration::from_secs(10),
        }
    }
}

/// A decoded event and where it came from.
#[derive(Debug, Clone)]
pub struct ConsumedRecord {
    pub event: Event,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
    /// The consumer group that read it.
    pub group: Arc<str>,
}

impl ConsumedRecord {
    /// The span a handler processes this record in: a child of the trace the record carries
    /// (its `traceparent` header), named and attributed per the OpenTelemetry messaging
    /// semantic conventions (v1.27: `messaging.system`, `messaging.destination.name`, ...), with
    /// `trace_id` as a field so every log line written inside it names the trace.
    pub fn span(&self) -> tracing::Span {
        let meta = self.event.meta();
        let span = tracing::info_span!(
            "process",
            otel.name = %format!("process {}", self.topic),
            otel.kind = "consumer",
            messaging.system = "kafka",
            messaging.operation.type = "process",
            messaging.destination.name = %self.topic,
            messaging.destination.partition.id = %self.partition,
            messaging.kafka.offset = self.offset,
            messaging.consumer.group.name = %self.group,
            messaging.message.id = %meta.event_id,
            messaging.kafka.message.key = %self.event.key(),
            event_type = self.event.kind().name(),
            correlation_id = %meta.correlation_id,
            trace_id = tracing::field::Empty,
        );
        headers::adopt_trace_context(
            &span,
            self.traceparent.as_deref(),
            self.tracestate.as_deref(),
        );
        if let Some(trace_id) = self.traceparent.as_deref().and_then(headers::trace_id_of) {
            span.record("trace_id", trace_id);
        }
        span
    }
}

/// What a service does with what it consumes.
pub trait BatchHandler: Send {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Applies a batch durably and idempotently. `Err` makes the consumer retry the same batch
    /// with backoff; offsets move only after `Ok`.
    fn handle(
        &mut self,
        batch: &[ConsumedRecord],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// librdkafka (2.12) can hang forever closing a consumer whose group is mid-rebalance: the
/// close serves a queued assignment, whose `assign` call waits on a group that has already
/// terminated (librdkafka#4884, #4527). So a consumer only closes (`close_consumer`) after it
/// left its group while still being polled (unsubscribe, then poll until nothing is assigned);
/// one dropped without that — its task cancelled, e.g. when a runtime shuts down — is leaked,
/// not closed: the process is going away, and the group notices the member is gone after the
/// session timeout, as after a crash. Offsets are unaffected either way (stored only after a
/// batch's effect is durable).
pub struct EventConsumer {
    /// Shared only to be leaked (see `Drop`): a reference never released keeps it from closing.
    consumer: Arc<StreamConsumer<LagReport>>,
    /// Set once the consumer left its group: dropping it is then safe.
    left_group: bool,
    codec: Arc<EventCodec>,
    group: Arc<str>,
    settings: ConsumerSettings,
    /// Where records that can never be decoded are parked, so the partition moves on.
    dead_letters: DeadLetters,
}

/// Turns librdkafka's periodic statistics into `taskflow_consumer_lag{topic,group}`: the
/// records between this member's position and each partition's end, summed per topic over
/// the partitions it holds (librdkafka reports -1 for a partition it does not know yet).
struct LagReport {
    group: String,
}

impl ClientContext for LagReport {
    fn stats(&self, statistics: Statistics) {
        for (topic, stats) in &statistics.topics {
            let lag: i64 = stats
                .partitions
                .values()
                .filter(|p| p.partition >= 0 && p.consumer_lag >= 0)
                .map(|p| p.consumer_lag)
                .sum();
            CONSUMER_LAG
                .with_label_values(&[topic.as_str(), self.group.as_str()])
                .set(lag);
        }
    }
}

impl ConsumerContext for LagReport {}

/// A record copied out of librdkafka's buffer, before decoding.
struct RawRecord {
    topic: String,
    partition: i32,
    offset: i64,
    key: Option<Vec<u8>>,
    payload: Option<Vec<u8>>,
    traceparent: Option<String>,
    tracestate: Option<String>,
}

impl RawRecord {
    fn copy(message: &BorrowedMessage<'_>) -> Self {
        let hdrs = message.headers();
        Self {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map(<[u8]>::to_vec),
            traceparent: headers::get(hdrs, headers::TRACEPARENT).map(str::to_owned),
            tracestate: headers::get(hdrs, headers::TRACESTATE).map(str::to_owned),
        }
    }
}

impl EventConsumer {
    /// Joins `settings.group_id` and subscribes to `settings.topics`; undecodable records are
    /// parked on `dead_letters` with the reason.
    pub fn new(
        kafka: &KafkaSettings,
        codec: Arc<EventCodec>,
        settings: ConsumerSettings,
        dead_letters: DeadLetters,
    ) -> Result<Self, KafkaError> {
        let consumer: StreamConsumer<LagReport> = ClientConfig::new()
            .set("bootstrap.servers", &kafka.bootstrap_servers)
            .set("group.id", &settings.group_id)
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "500")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "cooperative-sticky")
            // A member killed with -9 says no goodbye: detect it within the session timeout.
            .set(
                "session.timeout.ms",
                kafka.session_timeout.as_millis().to_string(),
            )
            .set(
                "heartbeat.interval.ms",
                (kafka.session_timeout.as_millis() / 3).max(100).to_string(),
            )
            .set("enable.partition.eof", "false")
            .set(
                "reconnect.backoff.max.ms",
                crate::config::KAFKA_RECONNECT_BACKOFF_MAX_MS,
            )
            // For `taskflow_consumer_lag` (see `LagReport`).
            .set("statistics.interval.ms", "5000")
            .create_with_context(LagReport {
                group: settings.group_id.clone(),
            })?;
        let topics: Vec<&str> = settings.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        Ok(Self {
            consumer: Arc::new(consumer),
            left_group: false,
            codec,
            group: settings.group_id.as_str().into(),
            settings,
            dead_letters,
        })
    }

    /// Consumes until `shutdown` resolves, then commits what has been stored and returns.
    pub async fn run<H: BatchHandler>(
        self,
        mut handler: H,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), KafkaError> {
        tokio::pin!(shutdown);
        let mut busy = false;
        loop {
            let first = tokio::select! {
                biased;
                () = &mut shutdown => break,
                received = self.consumer.recv() => received,
            };
            let mut raw = match first {
                Ok(message) => vec![RawRecord::copy(&message)],
                Err(error) => {
                    tracing::warn!(%error, group = %self.settings.group_id, "kafka consumer error");
                    continue;
                }
            };
            self.fill_batch(&mut raw, busy).await;
            busy = raw.len() >= BUSY_BATCH;

            let mut records = Vec::with_capacity(raw.len());
            for record in &raw {
                match self.decode(record, &mut shutdown).await {
                    Some(Ok(event)) => records.push(event),
                    Some(Err(poison)) => {
                        tracing::warn!(
                            topic = %poison.topic,
                            partition = poison.partition,
                            offset = poison.offset,
                            error = %poison.error,
                            "undecodable record, parking it on the dead-letter topic"
                        );
                        let mut backoff = self.backoff();
                        let reason = poison.error.to_string();
                        while let Err(error) = self.dead_letters.park(&poison, &reason).await {
                            if !backoff.pause(&mut shutdown, "dead-lettering", &error).await {
                                return self.close().await;
                            }
                        }
                    }
                    None => return self.close().await,
                }
            }
            if !records.is_empty() {
                // Debug level: each record is processed in its own `process` span, a child of the
                // record's trace; a batch span would only add a root trace per batch.
                let span = tracing::debug_span!("consume_batch", group = %self.settings.group_id, size = records.len());
                let mut backoff = self.backoff();
                while let Err(error) = handler.handle(&records).instrument(span.clone()).await {
                    if !backoff.pause(&mut shutdown, "batch handler", &error).await {
                        return self.close().await;
                    }
                }
            }
            for record in &raw {
                EVENTS_CONSUMED
                    .with_label_values(&[record.topic.as_str(), &self.group])
                    .inc();
                if let Err(error) =
                    self.consumer
                        .store_offset(&record.topic, record.partition, record.offset)
                {
                    // The partition was revoked meanwhile; its new owner re-reads the record.
                    tracing::debug!(%error, topic = %record.topic, partition = record.partition, "offset not stored");
                }
            }
        }
        self.close().await
    }

    async fn fill_batch(&self, raw: &mut Vec<RawRecord>, busy: bool) {
        let linger = if busy {
            self.settings.batch_linger
        } else {
            Duration::ZERO
        };
        let deadline = Instant::now() + linger;
        while raw.len() < self.settings.max_batch {
            // After a small batch: what librdkafka already holds, without waiting for more.
            let next = if busy {
                timeout_at(deadline, self.consumer.recv()).await.ok()
            } else {
                futures::FutureExt::now_or_never(self.consumer.recv())
            };
            match next.ok_or(()) {
                Ok(Ok(message)) => raw.push(RawRecord::copy(&message)),
                Ok(Err(error)) => {
                    tracing::warn!(%error, "kafka consumer error");
                    break;
                }
                Err(()) => break,
            }
        }
    }

    /// Decodes one record, waiting out registry outages; `Err` holds a record that will never
    /// decode. `None` means shutdown came first.
    async fn decode(
        &self,
        raw: &RawRecord,
        shutdown: &mut (impl Future<Output = ()> + Unpin),
    ) -> Option<Result<ConsumedRecord, PoisonRecord>> {
        let mut backoff = self.backoff();
        loop {
            match self.codec.decode(raw.payload.as_deref()).await {
                Ok(event) => {
                    return Some(Ok(ConsumedRecord {
                        event,
                        topic: raw.topic.clone(),
                        partition: raw.partition,
                        offset: raw.offset,
                        traceparent: raw.traceparent.clone(),
                        tracestate: raw.tracestate.clone(),
                        group: self.group.clone(),
                    }));
                }
                Err(error) if error.is_retryable() => {
                    if !backoff.pause(shutdown, "decoder", &error).await {
                        return None;
                    }
                }
                Err(error) => {
                    return Some(Err(PoisonRecord {
                        topic: raw.topic.clone(),
                        partition: raw.partition,
                        offset: raw.offset,
                        key: raw.key.clone(),
                        payload: raw.payload.clone(),
                        error,
                    }));
                }
            }
        }
    }

    fn backoff(&self) -> Backoff {
        Backoff {
            initial: self.settings.retry_initial,
            max: self.settings.retry_max,
            failures: 0,
        }
    }

    /// Commits what was stored, then leaves the group while still polling, so that dropping
    /// the consumer cannot meet a rebalance (see [`EventConsumer`]).
    async fn close(mut self) -> Result<(), KafkaError> {
        let committed = match self.consumer.commit_consumer_state(CommitMode::Sync) {
            // Nothing stored since the last commit.
            Err(KafkaError::ConsumerCommit(rdkafka::types::RDKafkaErrorCode::NoOffset)) => Ok(()),
            other => other,
        };
        self.leave_group().await;
        committed
    }

    async fn leave_group(&mut self) {
        self.consumer.unsubscribe();
        let deadline = Instant::now() + LEAVE_TIMEOUT;
        loop {
            // Serves the revocation callbacks; records still arriving are not stored, so their
            // partition's next owner reads them again.
            let _ = timeout_at(
                (Instant::now() + Duration::from_millis(100)).min(deadline),
                self.consumer.recv(),
            )
            .await;
            match self.consumer.assignment() {
                Ok(assigned) if assigned.count() == 0 => {
                    self.left_group = true;
                    return;
                }
                _ if Instant::now() >= deadline => {
                    tracing::warn!(group = %self.settings.group_id, "consumer did not leave its group in time; leaving it to the session timeout");
                    return;
                }
                _ => {}
            }
        }
    }
}

impl Drop for EventConsumer {
    fn drop(&mut self) {
        if !self.left_group {
            tracing::debug!(group = %self.settings.group_id, "consumer dropped without leaving its group; not closing it (see EventConsumer)");
            std::mem::forget(Arc::clone(&self.consumer));
        }
    }
}

/// Doubling waits between retries that give way to shutdown.
struct Backoff {
    initial: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    /// Logs `error`, then waits; false when shutdown was requested meanwhile.
    async fn pause(
        &mut self,
        shutdown: &mut (impl Future<Output = ()> + Unpin),
        what: &str,
        error: &(dyn std::error::Error + Send + Sync),
    ) -> bool {
        self.failures = self.failures.saturating_add(1);
        let wait = crate::backoff::step(self.initial, self.max, self.failures);
        tracing::warn!(%error, what, retry_in_ms = wait.as_millis() as u64, "failed, retrying");
        tokio::select! {
            biased;
            () = &mut *shutdown => false,
            () = sleep(wait) => true,
        }
    }
}
