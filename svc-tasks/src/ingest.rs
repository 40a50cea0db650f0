//! The projector: follows what other services tell svc-tasks, one transaction per consumed
//! batch; a redelivered event is recognised by its event id inside that transaction and
//! changes nothing (triggers by the inbox, execution events by the task log itself):
//! - svc-scheduler's triggers become tasks (`service::scheduled`);
//! - the executor's lifecycle events go into the task log and the `tasks` projection, so
//!   `GET /v1/tasks/{id}` shows live status.

use std::collections::{BTreeMap, HashMap};

use diesel_async::AsyncConnection;
use taskflow_platform::{BatchHandler, ConsumedRecord, metrics};
use taskflow_schemas::Event;

use crate::domain::{TaskView, apply};
use crate::service::record::{Outgoing, record_folded};
use crate::service::{ServiceError, Services, scheduled};
use crate::store::{self, Conn, StoreError};
use uuid::Uuid;

pub const CONSUMER_GROUP: &str = "svc-tasks";

pub struct Ingest {
    pub services: Services,
    /// Where triggers that cannot become tasks are parked (the group's dead-letter topic).
    pub dead_letter_topic: String,
}

impl BatchHandler for Ingest {
    type Error = ServiceError;

    /// One transaction for the batch, with one statement per table however many events: the
    /// tasks' rows (locked), which events are new (not yet in the log), the log, the projection, the
    /// tenants' freed slots. Triggers come first, so tasks they create exist for the rest.
    /// Events are folded in Kafka order per task; `apply` ignores a stale step (by attempt and
    /// phase), whatever the order.
    async fn handle(&mut self, batch: &[ConsumedRecord]) -> Result<(), ServiceError> {
        let mut conn = self.services.db.get().await?;
        let services = &self.services;
        let dead_letters = self.dead_letter_topic.as_str();
        let (triggered, observed, appended) = conn
            .transaction::<_, ServiceError, _>(async move |conn| {
                let mut out = Outgoing::default();
                let triggered =
                    scheduled::create_triggered(conn, services, dead_letters, batch, &mut out)
                        .await?;
                let observed = project_batch(conn, batch, &mut out).await?;
                let appended = out.append(conn).await?;
                Ok((triggered, observed, appended))
            })
            .await?;
        if appended {
            self.services.outbox_ready.notify_one();
        }
        // Counted once committed: a batch retried after a failure is not counted twice.
        for (task_type, priority) in &triggered.created_kinds {
            metrics::TASKS_SUBMITTED
                .with_label_values(&[task_type.as_str(), priority, "schedule"])
                .inc();
        }
        for observation in observed {
            observation.record();
        }
        Ok(())
    }
}

/// What a projected event tells the metrics.
enum Observed {
    Finished {
        task_type: String,
        status: &'static str,
    },
    Waited {
        task_type: String,
        seconds: f64,
    },
}

impl Observed {
    fn record(self) {
        match self {
            Observed::Finished { task_type, status } => metrics::TASKS_FINISHED
                .with_label_values(&[task_type.as_str(), status])
                .inc(),
            Observed::Waited { task_type, seconds } => metrics::TASK_QUEUE_WAIT
                .with_label_values(&[task_type.as_str()])
                .observe(seconds),
        }
    }

    /// What `event` tells about `task` (as it was before the event) on its way to `next`.
    fn of(task: &TaskView, next: &TaskView, event: &Event) -> Vec<Observed> {
        let task_type = || task.task_type.clone();
        let mut seen = Vec::new();
        if !task.status.is_terminal() && next.status.is_terminal() {
            seen.push(Observed::Finished {
                task_type: task_type(),
                status: next.status.as_str(),
            });
        }
        if let Event::TaskStarted(e) = event
            && e.attempt == 1
            && task.started_at.is_none()
        {
            {
                let ready = task
                    .run_at
                    .map_or(task.created_at, |r| r.max(task.created_at));
                let waited = (e.meta.occurred_at - ready.timestamp_millis()).max(0);
                seen.push(Observed::Waited {
                    task_type: task_type(),
                    seconds: waited as f64 / 1_000.0,
                });
            }
        }
        seen
    }
}

fn is_execution_event(event: &Event) -> bool {
    matches!(
        event,
        Event::TaskStarted(_)
            | Event::TaskProgressUpdated(_)
            | Event::TaskCompleted(_)
            | Event::TaskFailed(_)
            | Event::TaskCancelled(_)
    )
}

async fn project_batch(
    conn: &mut Conn,
    batch: &[ConsumedRecord],
    out: &mut Outgoing,
) -> Result<Vec<Observed>, ServiceError> {
    let relevant: Vec<&ConsumedRecord> = batch
        .iter()
        .filter(|r| is_execution_event(&r.event))
        .collect();
    let mut task_ids: Vec<Uuid> = relevant.iter().filter_map(|r| r.event.task_id()).collect();
    task_ids.sort_unstable();
    task_ids.dedup();
    let mut tasks: HashMap<Uuid, (TaskView, bool)> = store::lock_tasks(conn, &task_ids)
        .await?
        .into_iter()
        .map(|t| (t.id, (t, false)))
        .collect();
    // The log is the inbox: every event applied here is appended to it under its unique event
    // id, so an event is new when the log lacks it. Asked only now that the tasks are locked: a
    // copy being applied by another instance at this moment is in the log once its lock frees.
    let ids: Vec<Uuid> = relevant.iter().map(|r| r.event.meta().event_id).collect();
    let mut new = store::not_in_log(conn, &ids).await?;
    let mut appended = Vec::new();
    let mut observed = Vec::new();
    // In tenant order, so that concurrent batches lock the counters in one order.
    let mut freed: BTreeMap<Uuid, i32> = BTreeMap::new();
    for record in relevant {
        let event = &record.event;
        // A copy delivered twice in one batch is applied once.
        if !new.remove(&event.meta().event_id) {
            continue;
        }
        let span = record.span();
        let _enter = span.enter();
        let Some(task_id) = event.task_id() else {
            continue;
        };
        let Some((task, changed)) = tasks.get_mut(&task_id) else {
            tracing::warn!(%task_id, event_type = event.kind().name(), "event for a task this service does not know, ignored");
            continue;
        };
        if task.tenant_id != event.meta().tenant_id {
            tracing::warn!(%task_id, "event names another tenant than its task, ignored");
            continue;
        }
        let next = apply(Some(task.clone()), event).map_err(|e| StoreError::Corrupt {
            what: "task stream",
            reason: e.to_string(),
        })?;
        if !task.status.is_terminal() && next.status.is_terminal() {
            *freed.entry(next.tenant_id).or_default() += 1;
        }
        tracing::debug!(%task_id, event_type = event.kind().name(), status = next.status.as_str(), "task projected");
        observed.extend(Observed::of(task, &next, event));
        appended.push((task_id, next.version, event));
        *task = next;
        *changed = true;
    }
    let changed: Vec<TaskView> = tasks
        .into_values()
        .filter_map(|(task, changed)| changed.then_some(task))
        .collect();
    record_folded(conn, &appended, &changed, out).await?;
    for (tenant_id, n) in freed {
        store::release_active_slots(conn, tenant_id, n).await?;
    }
    Ok(observed)
}
