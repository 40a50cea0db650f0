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
                let mut announced = false;
                for record in batch {
                    announced |= ingest(conn, &record.event, &producer, &*clock)
                        .instrument(record.span())
                        .await?;
                }
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

/// Applies one event; true when it enqueued an event to publish.
async fn ingest(
    conn: &mut store::Conn,
    event: &Event,
    producer: &str,
    clock: &dyn taskflow_platform::clock::Clock,
) -> Result<bool, IngestError> {
    let relevant = matches!(event, Event::TaskCreated(_) | Event::TaskCancelRequested(_));
    if !relevant || !taskflow_platform::inbox::record(conn, event.meta().event_id).await? {
        return Ok(false);
    }
    match event {
        Event::TaskCreated(created) => {
            let created_event = event
                .to_json()
                .map_err(taskflow_platform::outbox::OutboxError::from)?;
            let payload =
                serde_json::from_str(&created.payload_json).unwrap_or(serde_json::Value::Null);
            store::insert_execution(
                conn,
                &NewExecution {
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
                    trace: taskflow_platform::headers::current_trace(),
                },
            )
            .await?;
            Ok(false)
        }
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
