//! Follows the executor's lifecycle events into the task log and the `tasks` projection, so
//! `GET /v1/tasks/{id}` shows live status. One transaction per consumed batch; a redelivered
//! event is recognised by its event id inside that transaction and changes nothing.

use std::collections::HashMap;

use diesel_async::AsyncConnection;
use taskflow_platform::db::DbPool;
use taskflow_platform::{BatchHandler, ConsumedRecord};
use taskflow_schemas::Event;

use crate::domain::{TaskView, apply};
use crate::service::ServiceError;
use crate::service::record::{Announce, record_folded};
use crate::store::{self, Conn, StoreError};
use uuid::Uuid;

pub const CONSUMER_GROUP: &str = "svc-tasks";

pub struct Projector {
    pub db: DbPool,
}

impl BatchHandler for Projector {
    type Error = ServiceError;

    /// One transaction for the batch, with one statement per table however many events: the
    /// inbox (which events are new), the tasks' rows (locked), the log, the projection, the
    /// tenants' freed slots. Events are folded in Kafka order per task; `apply` ignores a stale
    /// step (by attempt and phase), whatever the order.
    async fn handle(&mut self, batch: &[ConsumedRecord]) -> Result<(), ServiceError> {
        let mut conn = self.db.get().await?;
        conn.transaction::<_, ServiceError, _>(async move |conn| project_batch(conn, batch).await)
            .await
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

async fn project_batch(conn: &mut Conn, batch: &[ConsumedRecord]) -> Result<(), ServiceError> {
    let relevant: Vec<&ConsumedRecord> = batch
        .iter()
        .filter(|r| is_execution_event(&r.event))
        .collect();
    let ids: Vec<Uuid> = relevant.iter().map(|r| r.event.meta().event_id).collect();
    let mut new = taskflow_platform::inbox::record_all(conn, &ids).await?;
    let mut task_ids: Vec<Uuid> = relevant.iter().map(|r| r.event.key()).collect();
    task_ids.sort_unstable();
    task_ids.dedup();
    let mut tasks: HashMap<Uuid, (TaskView, bool)> = store::lock_tasks(conn, &task_ids)
        .await?
        .into_iter()
        .map(|t| (t.id, (t, false)))
        .collect();
    let mut appended = Vec::new();
    let mut freed: HashMap<Uuid, i32> = HashMap::new();
    for record in relevant {
        let event = &record.event;
        // A copy delivered twice in one batch is applied once.
        if !new.remove(&event.meta().event_id) {
            continue;
        }
        let span = record.span();
        let _enter = span.enter();
        let task_id = event.key();
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
        appended.push((task_id, next.version, event));
        *task = next;
        *changed = true;
    }
    let changed: Vec<TaskView> = tasks
        .into_values()
        .filter_map(|(task, changed)| changed.then_some(task))
        .collect();
    record_folded(conn, &appended, &changed, Announce::No).await?;
    for (tenant_id, n) in freed {
        store::release_active_slots(conn, tenant_id, n).await?;
    }
    Ok(())
}
