//! The batch loop: read, decode, park what never decodes, hand the rest to the service, and only
//! then store offsets, which is what makes delivery at-least-once.

use std::future::Future;
use std::time::Duration;

use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use tokio::time::{Instant, timeout_at};
use tracing::Instrument;

use super::handler::BatchHandler;
use super::membership::EventConsumer;
use super::record::{ConsumedRecord, RawRecord};
use super::retry::Backoff;
use crate::dead_letter::PoisonRecord;
use crate::instruments::EVENTS_CONSUMED;

/// A batch at least this large means load is high: the next one lingers to fill up.
const BUSY_BATCH: usize = 16;

impl EventConsumer {
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
}
