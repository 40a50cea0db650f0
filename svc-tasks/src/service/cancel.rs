//! Recording a tenant's request to stop a task; the executor holding it ends it.

use chrono::Utc;
use diesel_async::AsyncConnection;
use taskflow_schemas::{Event, EventMeta};
use uuid::Uuid;

use super::{ServiceError, Services};
use crate::domain::{TaskView, apply, decide_cancel};
use crate::store::{self, StoreError};

pub async fn cancel(
    services: &Services,
    tenant_id: Uuid,
    task_id: Uuid,
    reason: Option<String>,
    correlation_id: &str,
) -> Result<TaskView, ServiceError> {
    let mut conn = services.db.get().await?;
    let producer = services.producer_name.clone();
    let correlation_id = correlation_id.to_owned();
    let (task, recorded) = conn
        .transaction::<_, ServiceError, _>(async move |conn| {
            let task = store::lock_task(conn, task_id)
                .await?
                .filter(|t| t.tenant_id == tenant_id)
                .ok_or(ServiceError::TaskNotFound)?;
            let meta = EventMeta::new(
                Utc::now().timestamp_millis(),
                correlation_id,
                tenant_id,
                producer,
            );
            let Some(request) = decide_cancel(&task, meta, reason)? else {
                return Ok((task, false));
            };
            let event: Event = request.into();
            let next = apply(Some(task.clone()), &event).map_err(|e| StoreError::Corrupt {
                what: "task stream",
                reason: e.to_string(),
            })?;
            store::append_event(conn, task_id, next.version, &event).await?;
            store::update_task(conn, &next, task.version).await?;
            store::enqueue(conn, &event).await?;
            Ok((next, true))
        })
        .await?;
    if recorded {
        services.outbox_ready.notify_one();
    }
    Ok(task)
}
