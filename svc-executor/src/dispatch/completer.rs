//! The completer: records finished attempts. Each outcome is a guarded state change (only the
//! holder of that attempt's lease moves the row) written with its event and, for a task that
//! failed for good, its dead letter, in one transaction; many outcomes share a transaction under
//! load. The attempt's slot frees only once its outcome is durable (or found moot).

use std::sync::Arc;
use std::time::Duration;

use diesel_async::AsyncConnection;
use taskflow_platform::clock::SharedClock;
use taskflow_platform::db::DbPool;
use taskflow_platform::headers::{TraceContext, current_trace_in};
use taskflow_platform::metrics;
use taskflow_schemas::Event;
use tokio::sync::{Notify, mpsc, oneshot};
use tracing::Instrument;

use super::DispatchSettings;
use crate::domain::AttemptOutcome;
use crate::domain::execution::{Due, Move};
use crate::store::{self, Claimed};

/// Most outcomes recorded in one transaction.
const COMPLETE_BATCH: usize = 256;

/// An attempt's outcome, decided and waiting to be recorded.
pub(super) struct Finished {
    pub(super) task: Claimed,
    pub(super) outcome: AttemptOutcome,
    pub(super) change: Move,
    pub(super) error: Option<String>,
    pub(super) event: Event,
    /// Set when the task failed for good: why it is parked on the dead-letter topic.
    pub(super) dead_letter: Option<String>,
    /// How long the attempt ran.
    pub(super) ran: Duration,
    pub(super) span: tracing::Span,
    /// Told once the outcome is durable (or found moot), so the slot frees only then.
    pub(super) recorded: oneshot::Sender<()>,
}

/// A batch of outcomes at least this large means load is high.
const BUSY_BATCH: usize = 16;
const BUSY_LINGER: Duration = Duration::from_millis(5);

pub(super) struct Completer {
    pub(super) db: DbPool,
    pub(super) settings: Arc<DispatchSettings>,
    pub(super) outbox_ready: Arc<Notify>,
    /// Wakes the claimer when a retry recorded here falls due.
    pub(super) work_ready: Arc<Notify>,
    /// Times those wake-ups.
    pub(super) clock: SharedClock,
    /// Finished attempts, from their runners.
    pub(super) outcomes: mpsc::UnboundedReceiver<Finished>,
}

impl Completer {
    /// Records finished attempts as they come, many per transaction: whatever queued up while
    /// the previous transaction ran goes into the next one.
    pub(super) async fn run(mut self) {
        let mut busy = false;
        while let Some(first) = self.outcomes.recv().await {
            // Under load (the last batch was large) wait a moment for more outcomes, so that a
            // transaction carries many; a lone outcome is recorded at once.
            if busy {
                tokio::time::sleep(BUSY_LINGER).await;
            }
            let mut batch = vec![first];
            while batch.len() < COMPLETE_BATCH {
                match self.outcomes.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            busy = batch.len() >= BUSY_BATCH;
            self.record_all(batch).await;
        }
    }

    /// Records `batch` in one transaction; if that fails, each on its own (so one bad outcome
    /// cannot hold the others back), waiting out database outages. Every outcome ends recorded
    /// or found moot (its lease was lost), and its attempt is then told.
    async fn record_all(&self, batch: Vec<Finished>) {
        let mut pending = vec![batch];
        let mut failures = 0u32;
        while let Some(batch) = pending.pop() {
            match self.write_outcomes(&batch).await {
                Ok(recorded) => {
                    failures = 0;
                    self.outbox_ready.notify_one();
                    self.wake_when_due(&batch, &recorded);
                    for (finished, recorded) in batch.into_iter().zip(recorded) {
                        let task = &finished.task;
                        let _enter = finished.span.enter();
                        if recorded {
                            metrics::TASK_ATTEMPTS
                                .with_label_values(&[
                                    task.task_type.as_str(),
                                    finished.outcome.as_str(),
                                ])
                                .inc();
                            metrics::TASK_RUN
                                .with_label_values(&[task.task_type.as_str()])
                                .observe(finished.ran.as_secs_f64());
                            tracing::debug!(task_id = %task.task_id, attempt = task.attempt, outcome = finished.outcome.as_str(), next_state = finished.change.to.as_str(), "attempt ended");
                        } else {
                            tracing::warn!(task_id = %task.task_id, attempt = task.attempt, "lease lost before the outcome was recorded; outcome dropped");
                        }
                        drop(_enter);
                        let _ = finished.recorded.send(());
                    }
                }
                Err(error) if batch.len() > 1 => {
                    tracing::warn!(%error, outcomes = batch.len(), "recording outcomes together failed; recording them one by one");
                    pending.extend(batch.into_iter().map(|f| vec![f]));
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let task_id = batch[0].task.task_id;
                    tracing::warn!(%task_id, %error, failures, "recording the outcome failed, retrying");
                    tokio::time::sleep(taskflow_platform::backoff::step(
                        Duration::from_millis(50),
                        Duration::from_secs(5),
                        failures,
                    ))
                    .await;
                    pending.push(batch);
                }
            }
        }
    }

    /// Retries recorded here fall due later: wake this claimer then (other instances find them by
    /// their own next-due time or poll).
    fn wake_when_due(&self, batch: &[Finished], recorded: &[bool]) {
        let Some(first_due) = batch
            .iter()
            .zip(recorded)
            .filter(|(_, recorded)| **recorded)
            .filter_map(|(f, _)| match f.change.due {
                Due::At(at) => Some(at),
                Due::Now | Due::Unchanged => None,
            })
            .min()
        else {
            return;
        };
        crate::wake::wake_at(&self.work_ready, first_due, &*self.clock);
    }

    /// One transaction: the outcomes as guarded state changes (only the lease holder's count)
    /// and their attempts' ends (two statements for the batch), their events (one), and a dead
    /// letter for each task that failed for good.
    async fn write_outcomes(&self, batch: &[Finished]) -> Result<Vec<bool>, store::TxError> {
        let mut conn = self.db.get().await?;
        let owner = &self.settings.instance;
        let topic = &self.settings.dead_letter_topic;
        conn.transaction::<_, store::TxError, _>(async |conn| {
            let outcomes: Vec<store::Outcome<'_>> = batch
                .iter()
                .map(|f| store::Outcome {
                    task_id: f.task.task_id,
                    attempt: f.task.attempt,
                    change: f.change,
                    outcome: f.outcome,
                    error: f.error.as_deref(),
                })
                .collect();
            let recorded = store::finish_all(conn, owner, &outcomes).await?;
            let mut events: Vec<(Event, TraceContext)> = Vec::with_capacity(batch.len());
            for (f, _) in batch.iter().zip(&recorded).filter(|(_, counted)| **counted) {
                events.push((f.event.clone(), current_trace_in(&f.span)));
                if let Some(reason) = &f.dead_letter {
                    store::dead_letter_task(conn, f.task.task_id, topic, reason)
                        .instrument(f.span.clone())
                        .await?;
                }
            }
            store::enqueue_all(conn, &events).await?;
            Ok(recorded)
        })
        .await
    }
}
