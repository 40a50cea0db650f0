//! Joining and leaving the consumer group, apart from the batch loop: how a consumer ends is
//! where librdkafka can hang (see [`EventConsumer`]), so it is read on its own.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use tokio::time::{Instant, timeout_at};

use super::lag::LagReport;
use super::settings::ConsumerSettings;
use crate::codec::EventCodec;
use crate::config::KafkaSettings;
use crate::dead_letter::DeadLetters;

/// How long a closing consumer waits for the group to take its partitions back.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(10);

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
    pub(super) consumer: Arc<StreamConsumer<LagReport>>,
    /// Set once the consumer left its group: dropping it is then safe.
    pub(super) left_group: bool,
    pub(super) codec: Arc<EventCodec>,
    pub(super) group: Arc<str>,
    pub(super) settings: ConsumerSettings,
    /// Where records that can never be decoded are parked, so the partition moves on.
    pub(super) dead_letters: DeadLetters,
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

    /// Commits what was stored, then leaves the group while still polling, so that dropping
    /// the consumer cannot meet a rebalance (see [`EventConsumer`]).
    pub(super) async fn close(mut self) -> Result<(), KafkaError> {
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
