//! Takes TaskCreated and TaskCancelRequested off Kafka into the executions table: one
//! transaction per batch, each event recorded once by its id in that same transaction, so
//! redelivery after a crash or a rebalance changes nothing.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use taskflow_platform::clock::Clock;
use taskflow_platform::db::DbPool;
use taskflow_platform::headers::current_trace_in;
use taskflow_platform::{BatchHandler, ConsumedRecord};
use taskflow_schemas::Event;
use tokio::sync::Notify;
use tracing::Instrument;

use crate::domain::execution::{Due, first_due};
use crate::events::AttemptRef;
use crate::store::{self, CancelFound, NewExecution, TxError};

pub struct Ingest {
    pub db: DbPool,
    pub clock: taskflow_platform::clock::SharedClock,
    pub work_ready: Arc<Notify>,
    pub outbox_ready: Arc<Notify>,
    pub producer: String,
}

impl BatchHandler for Ingest {
    type Error = TxError;

    async fn handle(&mut self, batch: &[ConsumedRecord]) -> Result<(), TxError> {
        let mut conn = self.db.get().await?;
        let producer = self.producer.clone();
        let clock = self.clock.clone();
        let (announced, first_delayed) = conn
            .transaction::<_, TxError, _>(async move |conn| {
                // Runs of TaskCreated are queued together (one statement each for the inbox,
                // the tenants' turns and the executions); anything else is applied on its own,
                // in order, after the run before it.
                let mut announced = Vec::new();
                let mut first_delayed = None;
                let mut run: Vec<&ConsumedRecord> = Vec::new();
                for record in batch {
                    if matches!(record.event, Event::TaskCreated(_)) {
                        run.push(record);
                        continue;
                    }
                    first_delayed =
                        earliest(first_delayed, queue_created(conn, &run, &*clock).await?);
                    run.clear();
                    let span = record.span();
                    if let Some(event) = ingest(conn, &record.event, &producer, &*clock)
                        .instrument(span.clone())
                        .await?
                    {
                        announced.push((event, current_trace_in(&span)));
                    }
                }
                first_delayed = earliest(first_delayed, queue_created(conn, &run, &*clock).await?);
                // Last: after every row lock, so per key ids follow commit order.
                store::enqueue_all(conn, &announced).await?;
                Ok((!announced.is_empty(), first_delayed))
            })
            .await?;
        // notify_one keeps a permit when the dispatcher is busy, so this wake-up is never lost.
        self.work_ready.notify_one();
        // A delayed task starts at its run_at, not at the next poll (nor only after a claim that
        // found nothing learns when it falls due).
        if let Some(at) = first_delayed {
            crate::wake::wake_at(&self.work_ready, at, &*self.clock);
        }
        if announced {
            self.outbox_ready.notify_one();
        }
        Ok(())
    }
}

/// Queues the executions of `records` (all TaskCreated); tasks already queued are left as they are. Returns
/// the earliest run_at among them that is still ahead.
async fn queue_created(
    conn: &mut store::Conn,
    records: &[&ConsumedRecord],
    clock: &dyn Clock,
) -> Result<Option<DateTime<Utc>>, TxError> {
    if records.is_empty() {
        return Ok(None);
    }
    let now = clock.now();
    // A TaskCreated seen before finds its task's execution in place (the insert skips it):
    // the queue itself deduplicates, with no inbox row per task.
    let mut executions = Vec::with_capacity(records.len());
    for record in records {
        let Event::TaskCreated(created) = &record.event else {
            continue;
        };
        let span = record.span();
        let _enter = span.enter();
        tracing::debug!(task_id = %created.task_id, run_at = created.run_at, "task queued");
        executions.push(new_execution(&record.event, created, &span, now)?);
    }
    store::insert_executions(conn, &executions).await?;
    Ok(executions.iter().filter_map(|e| e.not_before).min())
}

/// The earlier of two instants, either of which may be absent.
fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    a.into_iter().chain(b).min()
}

fn new_execution(
    event: &Event,
    created: &taskflow_schemas::TaskCreated,
    span: &tracing::Span,
    now: DateTime<Utc>,
) -> Result<NewExecution, TxError> {
    let not_before = match first_due(created.run_at, now) {
        Due::At(at) => Some(at),
        Due::Now | Due::Unchanged => None,
    };
    let created_event = event
        .to_json()
        .map_err(taskflow_platform::outbox::OutboxError::from)?;
    let payload = serde_json::from_str(&created.payload_json).unwrap_or(serde_json::Value::Null);
    Ok(NewExecution {
        task_id: created.task_id,
        tenant_id: created.meta.tenant_id,
        task_type: created.task_type.clone(),
        priority: created.priority.rank(),
        payload,
        max_attempts: created.max_attempts.max(1),
        timeout_ms: created.timeout_ms.max(1),
        correlation_id: created.meta.correlation_id.clone(),
        created_event_id: created.meta.event_id,
        created_event,
        trace: taskflow_platform::headers::current_trace_in(span),
        not_before,
    })
}

/// Applies one event other than TaskCreated; returns the event to announce, if any.
async fn ingest(
    conn: &mut store::Conn,
    event: &Event,
    producer: &str,
    clock: &dyn Clock,
) -> Result<Option<Event>, TxError> {
    // TaskCreated never comes here: `queue_created` takes those, in runs.
    let relevant = matches!(event, Event::TaskCancelRequested(_));
    if !relevant || !taskflow_platform::inbox::record(conn, event.meta().event_id).await? {
        return Ok(None);
    }
    match event {
        Event::TaskCancelRequested(request) => {
            match store::request_cancel(conn, request.task_id).await? {
                CancelFound::StoppedWaiting {
                    attempt,
                    tenant_id,
                    correlation_id,
                } => {
                    let attempt_ref = AttemptRef {
                        task_id: request.task_id,
                        tenant_id,
                        correlation_id,
                        cause: request.meta.event_id,
                        attempt,
                        producer: producer.to_owned(),
                    };
                    Ok(Some(
                        attempt_ref.cancelled_at(clock, request.reason.clone()),
                    ))
                }
                CancelFound::Flagged | CancelFound::Nothing => Ok(None),
            }
        }
        _ => Ok(None),
    }
}
