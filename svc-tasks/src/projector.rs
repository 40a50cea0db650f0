//! Follows the executor's lifecycle events into the task log and the `tasks` projection, so
//! `GET /v1/tasks/{id}` shows live status. One transaction per consumed batch; a redelivered
//! event is recognised by its event id inside that transaction and changes nothing.

use diesel_async::AsyncConnection;
use taskflow_platform::db::DbPool;
use taskflow_platform::{BatchHandler, ConsumedRecord};
use taskflow_schemas::Event;
use tracing::Instrument;

use crate::service::ServiceError;
use crate::service::record::{Announce, record};
use crate::store::{self, Conn};

pub const CONSUMER_GROUP: &str = "svc-tasks";

pub struct Projector {
    pub db: DbPool,
}

impl BatchHandler for Projector {
    type Error = ServiceError;

    async fn handle(&mut self, batch: &[ConsumedRecord]) -> Result<(), ServiceError> {
        let mut conn = self.db.get().await?;
        conn.transaction::<_, ServiceError, _>(async move |conn| {
            for record in batch {
                project(conn, &record.event)
                    .instrument(record.span())
                    .await?;
            }
            Ok(())
        })
        .await
    }
}

/// Applies one execution event; returns whether it changed anything.
pub async fn project(conn: &mut Conn, event: &Event) -> Result<bool, ServiceError> {
    let relevant = matches!(
        event,
        Event::TaskStarted(_)
            | Event::TaskProgressUpdated(_)
            | Event::TaskCompleted(_)
            | Event::TaskFailed(_)
            | Event::TaskCancelled(_)
    );
    if !relevant || !taskflow_platform::inbox::record(conn, event.meta().event_id).await? {
        return Ok(false);
    }
    let task_id = event.key();
    let Some(task) = store::lock_task(conn, task_id).await? else {
        tracing::warn!(%task_id, event_type = event.kind().name(), "event for a task this service does not know, ignored");
        return Ok(false);
    };
    if task.tenant_id != event.meta().tenant_id {
        tracing::warn!(%task_id, "event names another tenant than its task, ignored");
        return Ok(false);
    }
    let Some(next) = record(conn, Some(&task), event, Announce::No).await? else {
        return Ok(false);
    };
    tracing::debug!(%task_id, event_type = event.kind().name(), status = next.status.as_str(), "task projected");
    if !task.status.is_terminal() && next.status.is_terminal() {
        store::release_active_slot(conn, task.tenant_id).await?;
    }
    Ok(true)
}
