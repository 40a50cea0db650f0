//! Takes TaskCreated and TaskCancelRequested off Kafka into the executions table: one
//! transaction per batch, each event recorded once by its id in that same transaction, so
//! redelivery after a crash or a rebalance changes nothing.

use std::sync::Arc;

use diesel_async::AsyncConnection;
use taskflow_platform::db::DbPool;
use taskflow_platform::{BatchHandler, ConsumedRecord};
use taskflow_schemas::Event;
use tokio::sync::Notify;
use tracing::Instrument;

use crate::events::AttemptRef;
use crate::store::{self, CancelFound, NewExecution};

pub struct Ingest {
    pub db: DbPool,
    pub clock: taskflow_platform::clock::SharedClock,
    pub work_ready: Arc<Notify>,
    pub outbox_ready: Arc<Notify>,
    pub producer: String,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("no database connection: {0}")]
    Pool(#[from] diesel_async::pooled_connection::deadpool::PoolError),
    #[error(transparent)]
    Outbox(#[from] taskflow_platform::outbox::OutboxError),
}

impl BatchHandler for Ingest {
    type Error = IngestError;

    async fn handle(&mut self, batch: &[ConsumedRecord]) -> Result<(), IngestError> {
        let mut conn = self.db.get().await?;
        let producer = self.producer.clone();
        let clock = self.clock.clone();
        let announced = conn
            .transaction::<_, IngestError, _>(async move |conn| {
                // Runs of TaskCreated are queued together (one statement each for the inbox,
                // the tenants' turns and the executions); anything else is applied on its own,
                // in order, after the run before it.
                let mut announced = false;
                let mut run: Vec<&ConsumedRecord> = Vec::new();
                for record in batch {
                    if matches!(record.event, Event::TaskCreated(_)) {
                        run.push(record);
                        continue;
                    }
                    queue_created(conn, &run).await?;
                    run.clear();
                    announced |= ingest(conn, &record.event, &producer, &*clock)
                        .instrument(record.span())
                        .await?;
                }
                queue_created(conn, &run).await?;
                Ok(announced)
            })
            .await?;
        // notify_one keeps a permit when the dispatcher is busy, so this wake-up is never lost.
        self.work_ready.notify_one();
        if announced {
            self.outbox_ready.notify_one();
        }
        Ok(())
    }
}

/// Queues the executions of `records` (all TaskCreated) that were not consumed before.
async fn queue_created(
    conn: &mut store::Conn,
    records: &[&ConsumedRecord],
) -> Result<(), IngestError> {
    if records.is_empty() {
        return Ok(());
    }
    let ids: Vec<_> = records.iter().map(|r| r.event.meta().event_id).collect();
    let new = taskflow_platform::inbox::record_all(conn, &ids).await?;
    let mut executions = Vec::with_capacity(new.len());
    for record in records {
        let Event::TaskCreated(created) = &record.event else {
            continue;
        };
        if !new.contains(&created.meta.event_id) {
            continue;
        }
        let span = record.span();
        let _enter = span.enter();
        tracing::debug!(task_id = %created.task_id, "task queued");
        executions.push(new_execution(&record.event, created, &span)?);
    }
    store::insert_executions(conn, &executions).await?;
    Ok(())
}

fn new_execution(
    event: &Event,
    created: &taskflow_schemas::TaskCreated,
    span: &tracing::Span,
) -> Result<NewExecution, IngestError> {
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
    })
}

/// Applies one event other than TaskCreated; true when it enqueued an event to publish.
async fn ingest(
    conn: &mut store::Conn,
    event: &Event,
    producer: &str,
    clock: &dyn taskflow_platform::clock::Clock,
) -> Result<bool, IngestError> {
    // TaskCreated never comes here: `queue_created` takes those, in runs.
    let relevant = matches!(event, Event::TaskCancelRequested(_));
    if !relevant || !taskflow_platform::inbox::record(conn, event.meta().event_id).await? {
        return Ok(false);
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
                    store::enqueue(
                        conn,
                        &attempt_ref.cancelled_at(clock, request.reason.clone()),
                    )
                    .await?;
                    Ok(true)
                }
                CancelFound::Flagged | CancelFound::Nothing => Ok(false),
            }
        }
        _ => Ok(false),
    }
}
