//! Recording a tenant's request to stop a task; the executor holding it ends it.

use diesel_async::AsyncConnection;
use taskflow_schemas::{Event, EventMeta};
use uuid::Uuid;

use super::record::{Outgoing, record};
use super::{ServiceError, Services};
use crate::domain::{TaskView, decide_cancel};
use crate::store;

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
    let now = services.clock.now_millis();
    let (task, recorded) = conn
        .transaction::<_, ServiceError, _>(async move |conn| {
            let task = store::lock_task(conn, task_id)
                .await?
                .filter(|t| t.tenant_id == tenant_id)
                .ok_or(ServiceError::TaskNotFound)?;
            let meta = EventMeta::new(now, correlation_id, tenant_id, producer);
            let Some(request) = decide_cancel(&task, meta, reason)? else {
                return Ok((task, false));
            };
            let event: Event = request.into();
            let mut out = Outgoing::default();
            let after = record(conn, &task, &event, &mut out).await?;
            out.append(conn).await?;
            Ok((after, true))
        })
        .await?;
    if recorded {
        services.outbox_ready.notify_one();
    }
    Ok(task)
}
