//! Runs by hand: trigger one run now, or backfill the instants of a past range. Both record
//! their occurrences and trigger events like the firer does, marked `manual` or `backfill`,
//! whatever the timetable and the overlap policy say.

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use uuid::Uuid;

use super::outgoing::Outgoing;
use super::{MAX_INSTANTS, ServiceError, Services, model_of, record};
use crate::domain::firing::{Step, task_id};
use crate::domain::occurrence::Origin;
use crate::domain::options::occurrences as instants;
use crate::store;

/// The instant a manual run is recorded at, and the task it becomes.
pub struct Triggered {
    pub nominal_time: DateTime<Utc>,
    pub task_id: Uuid,
}

/// Runs the schedule's task now, once.
pub async fn trigger(
    services: &Services,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Triggered, ServiceError> {
    let now = services.now();
    let instant = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
    let mut out = Outgoing::new(&services.producer);
    let mut conn = services.pool.get().await?;
    let task = conn
        .transaction::<_, ServiceError, _>(async move |conn| {
            let row = store::lock_schedule(conn, tenant_id, id)
                .await?
                .ok_or(ServiceError::NotFound(id))?;
            let model = model_of(&row)?;
            let task = task_id(id, instant);
            let steps = [Step::Trigger {
                nominal: instant,
                task_id: task,
                cancel: None,
            }];
            record(conn, &row, &model, &steps, Origin::Manual, now, &mut out).await?;
            out.append(conn).await?;
            Ok(task)
        })
        .await?;
    services.outbox_ready.notify_one();
    Ok(Triggered {
        nominal_time: instant,
        task_id: task,
    })
}

/// Runs every instant of the timetable in (from, to] that has no occurrence yet (at most
/// [`MAX_INSTANTS`]); returns how many it triggered.
pub async fn backfill(
    services: &Services,
    tenant_id: Uuid,
    id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<usize, ServiceError> {
    let now = services.now();
    if to <= from || to > now {
        return Err(ServiceError::invalid(
            "/to",
            "to must be after from and not in the future",
        ));
    }
    let mut out = Outgoing::new(&services.producer);
    let mut conn = services.pool.get().await?;
    let fired = conn
        .transaction::<_, ServiceError, _>(async move |conn| {
            let row = store::lock_schedule(conn, tenant_id, id)
                .await?
                .ok_or(ServiceError::NotFound(id))?;
            let model = model_of(&row)?;
            let wanted = instants(
                &model.spec,
                &model.window,
                row.anchor,
                from,
                to,
                MAX_INSTANTS + 1,
            );
            if wanted.len() > MAX_INSTANTS {
                return Err(ServiceError::invalid(
                    "/from",
                    format!(
                        "more than {MAX_INSTANTS} instants in that range; backfill it in parts"
                    ),
                ));
            }
            let known = store::recorded_instants(conn, id, &wanted).await?;
            let steps: Vec<Step> = wanted
                .into_iter()
                .filter(|n| !known.contains(n))
                .map(|nominal| Step::Trigger {
                    nominal,
                    task_id: task_id(id, nominal),
                    cancel: None,
                })
                .collect();
            record(conn, &row, &model, &steps, Origin::Backfill, now, &mut out).await?;
            out.append(conn).await?;
            Ok(steps.len())
        })
        .await?;
    services.outbox_ready.notify_one();
    Ok(fired)
}
