//! Takes TaskCreated and TaskCancelRequested off Kafka into the executions table: one
//! transaction per batch, each event recorded once by its id in that same transaction, so
//! redelivery after a crash or a rebalance changes nothing. What it changes it logs in the same
//! transaction (`crate::log`): the TaskCreated of each execution it queues, and a cancel request
//! that flags a running one, as internal rows of the outbox.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use taskflow_platform::clock::Clock;
use taskflow_platform::db::DbPool;
use taskflow_platform::headers::{TraceContext, current_trace_in};
use taskflow_platform::{BatchHandler, ConsumedRecord};
use taskflow_schemas::Event;
use tokio::sync::Notify;
use tracing::Instrument;

use crate::events::AttemptRef;
use crate::log;
use crate::store::{self, CancelFound, TxError};

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
                let mut logged = Vec::new();
                let mut first_delayed = None;
                let mut run: Vec<&ConsumedRecord> = Vec::new();
                for record in batch {
                    if matches!(record.event, Event::TaskCreated(_)) {
                        run.push(record);
                        continue;
                    }
                    first_delayed = earliest(
                        first_delayed,
                        queue_created(conn, &run, &*clock, &mut logged).await?,
                    );
                    run.clear();
                    let span = record.span();
                    let applied = ingest(conn, &record.event, &producer, &*clock)
                        .instrument(span.clone())
                        .await?;
                    let trace = current_trace_in(&span);
                    match applied {
                        Applied::Announce(event) => announced.push((*event, trace)),
                        Applied::Log => logged.push((record.event.clone(), trace)),
                        Applied::Nothing => {}
                    }
                }
                first_delayed = earliest(
                    first_delayed,
                    queue_created(conn, &run, &*clock, &mut logged).await?,
                );
                // Last: after every row lock, so per key ids follow commit order.
                store::append_internal(conn, &logged).await?;
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

/// Queues the executions of `records` (all TaskCreated); tasks already queued are left as they
/// are. The TaskCreated of each execution queued now goes to `logged`, for the log. Returns the
/// earliest run_at among them that is still ahead.
async fn queue_created(
    conn: &mut store::Conn,
    records: &[&ConsumedRecord],
    clock: &dyn Clock,
    logged: &mut Vec<(Event, TraceContext)>,
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
        let new = log::new_execution(&record.event, created, current_trace_in(&span))
            .map_err(taskflow_platform::outbox::OutboxError::from)?;
        executions.push((new, record));
    }
    let rows: Vec<_> = executions.iter().map(|(new, _)| new.clone()).collect();
    let inserted = store::insert_executions(conn, &rows).await?;
    for (new, record) in &executions {
        if inserted.contains(&new.task_id) {
            logged.push((record.event.clone(), new.trace.clone()));
        }
    }
    Ok(executions
        .iter()
        .filter_map(|(e, _)| e.not_before)
        .filter(|at| *at > now)
        .min())
}

/// The earlier of two instants, either of which may be absent.
fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    a.into_iter().chain(b).min()
}

/// What applying an event other than TaskCreated leads to.
enum Applied {
    /// An event to announce (boxed: an event is large, and most applications announce none).
    Announce(Box<Event>),
    /// The event itself goes to the log (a cancel request that flagged a running execution).
    Log,
    Nothing,
}

/// Applies one event other than TaskCreated.
async fn ingest(
    conn: &mut store::Conn,
    event: &Event,
    producer: &str,
    clock: &dyn Clock,
) -> Result<Applied, TxError> {
    // TaskCreated never comes here: `queue_created` takes those, in runs.
    let relevant = matches!(event, Event::TaskCancelRequested(_));
    if !relevant || !taskflow_platform::inbox::record(conn, event.meta().event_id).await? {
        return Ok(Applied::Nothing);
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
                    Ok(Applied::Announce(Box::new(
                        attempt_ref.cancelled_at(clock, request.reason.clone()),
                    )))
                }
                // The flag is a change of the row that nothing announces: logged as the request.
                CancelFound::Flagged => Ok(Applied::Log),
                CancelFound::Nothing => Ok(Applied::Nothing),
            }
        }
        _ => Ok(Applied::Nothing),
    }
}
