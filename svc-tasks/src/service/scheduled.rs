//! Tasks from schedules: every `ScheduledTaskTriggered` svc-scheduler publishes becomes the task
//! it names, exactly once, the way a submission becomes one (same checks, same TaskCreated
//! through the outbox, same log and projection), in the consumer's transaction with the inbox.
//!
//! Exactly once, whatever arrives: a redelivered trigger (same event id) is recognised by the
//! inbox; a second trigger for the same instant (another event id, same task id, e.g. from a
//! second scheduler instance) finds the task there and creates nothing. If two transactions
//! raced to create one task, the log's `(stream_id, version)` key fails the later one, whose
//! batch is retried and then finds the task.
//!
//! A trigger that cannot become a task (unknown tenant, type not in the catalogue, payload not
//! matching the type's schema, settings out of bounds, a priority the tenant may not use) must
//! not hold up the partition: it is consumed, logged as a warning, answered with a
//! `ScheduledTaskRefused` (so svc-scheduler stops waiting for a task that will never exist and
//! shows why) and parked on svc-tasks' dead-letter topic (`taskflow.deadletter.<group>.v1`,
//! reason in `taskflow.dlq.reason`), both through the outbox in the same transaction, so it can
//! be found and replayed once fixed.
//!
//! A trigger of a schedule with overlap `cancel_other` names the run it replaces
//! (`cancel_task_id`): when its own task is created, a cancel request for that run (same tenant,
//! same schedule, not ended) is recorded first, exactly as `POST /v1/tasks/{id}/cancel` would.

use std::collections::{BTreeMap, HashMap};

use taskflow_platform::ConsumedRecord;
use taskflow_platform::headers::current_trace;
use taskflow_schemas::{Event, EventMeta, ScheduledTaskRefused, ScheduledTaskTriggered};
use tracing::Instrument;
use uuid::Uuid;

use super::record::{NewTask, Outgoing, record, record_new};
use super::submit::allowed_priorities;
use super::{ServiceError, Services};
use crate::domain::{TaskView, decide_cancel, quota, trigger};
use crate::store::{self, Conn};

/// What the triggers of one batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Triggered {
    pub created: usize,
    /// Type and priority of each task created (for the metrics, once committed).
    pub created_kinds: Vec<(String, &'static str)>,
    pub refused: usize,
    /// Previous runs asked to cancel (overlap `cancel_other`).
    pub cancelled: usize,
}

/// Creates the tasks the batch's triggers ask for, in the caller's transaction, their events
/// going to `out`; other events of the batch are left alone (`ScheduleOccurrenceSkipped` is
/// svc-scheduler's own record).
pub async fn create_triggered(
    conn: &mut Conn,
    services: &Services,
    dead_letter_topic: &str,
    batch: &[ConsumedRecord],
    out: &mut Outgoing,
) -> Result<Triggered, ServiceError> {
    let triggers: Vec<(&ConsumedRecord, &ScheduledTaskTriggered)> = batch
        .iter()
        .filter_map(|record| match &record.event {
            Event::ScheduledTaskTriggered(trigger) => Some((record, trigger)),
            _ => None,
        })
        .collect();
    if triggers.is_empty() {
        return Ok(Triggered::default());
    }
    let ids: Vec<Uuid> = triggers.iter().map(|(_, t)| t.meta.event_id).collect();
    let mut new = taskflow_platform::inbox::record_all(conn, &ids).await?;
    // Consumed before (or twice in this batch): applied once.
    let triggers: Vec<_> = triggers
        .into_iter()
        .filter(|(_, t)| new.remove(&t.meta.event_id))
        .collect();

    let mut task_ids: Vec<Uuid> = triggers.iter().map(|(_, t)| t.task_id).collect();
    task_ids.sort_unstable();
    task_ids.dedup();
    // Task id -> (tenant, schedule) of the task that has it.
    let mut taken: HashMap<Uuid, (Uuid, Option<Uuid>)> = store::existing_tasks(conn, &task_ids)
        .await?
        .into_iter()
        .map(|(id, tenant, schedule)| (id, (tenant, schedule)))
        .collect();
    let mut tenant_ids: Vec<Uuid> = triggers
        .iter()
        .filter(|(_, t)| !taken.contains_key(&t.task_id))
        .map(|(_, t)| t.meta.tenant_id)
        .collect();
    tenant_ids.sort_unstable();
    tenant_ids.dedup();
    // Share-locked in id order like a submission's: a change of limits waits for this batch.
    let mut tenants = HashMap::new();
    for id in tenant_ids {
        if let Some(tenant) = store::lock_tenant_shared(conn, id).await? {
            tenants.insert(id, tenant);
        }
    }

    let now = services.clock.now().timestamp_millis();
    let mut created = Vec::new();
    let mut created_kinds = Vec::new();
    let mut refused = Vec::new();
    let mut replaced: Vec<(&ConsumedRecord, &ScheduledTaskTriggered, Uuid)> = Vec::new();
    let mut per_tenant: BTreeMap<Uuid, i32> = BTreeMap::new();
    for (record, t) in &triggers {
        let span = record.span();
        let _enter = span.enter();
        let (task_id, schedule_id, fire_time) = (t.task_id, t.schedule_id, t.fire_time);
        if let Some((tenant, schedule)) = taken.get(&task_id) {
            if (*tenant, *schedule) == (t.meta.tenant_id, Some(schedule_id)) {
                tracing::info!(%task_id, %schedule_id, fire_time, "the trigger's task exists already, nothing to do");
            } else {
                tracing::warn!(%task_id, %schedule_id, fire_time, "the trigger's task id belongs to another task, nothing created");
            }
            continue;
        }
        let checked = match tenants.get(&t.meta.tenant_id) {
            None => Err(format!(
                "tenant {} is not known to svc-tasks",
                t.meta.tenant_id
            )),
            Some(tenant) => trigger::validate(
                t,
                &services.catalog,
                &services.policy,
                allowed_priorities(tenant).as_deref(),
            )
            .map_err(|e| trigger::describe(&e)),
        };
        match checked {
            Ok(valid) => {
                let meta = EventMeta::new(
                    now,
                    &t.meta.correlation_id,
                    t.meta.tenant_id,
                    &services.producer_name,
                );
                let task = trigger::task_created(t, &valid, meta);
                created_kinds.push((task.task_type.clone(), task.priority.as_str()));
                created.push(NewTask::caused_by(
                    record.event.clone(),
                    task.into(),
                    current_trace(),
                ));
                taken.insert(task_id, (t.meta.tenant_id, Some(schedule_id)));
                *per_tenant.entry(t.meta.tenant_id).or_default() += 1;
                match t.cancel_task_id.as_deref().map(Uuid::parse_str) {
                    Some(Ok(previous)) => replaced.push((*record, *t, previous)),
                    Some(Err(_)) => {
                        tracing::warn!(%task_id, %schedule_id, "cancel_task_id is not a uuid; nothing cancelled")
                    }
                    None => {}
                }
                tracing::info!(%task_id, %schedule_id, fire_time, "task created from a schedule trigger");
            }
            Err(reason) => {
                tracing::warn!(%task_id, %schedule_id, fire_time, %reason, "schedule trigger refused, no task for this instant; dead-lettered");
                refused.push((*record, reason));
            }
        }
    }

    // Scheduled tasks count against the tenant's active tasks but are never refused by a limit:
    // see `quota::count_scheduled`. Counters are kept where a limit exists, as for submissions.
    for (tenant_id, n) in &per_tenant {
        let limited = tenants
            .get(tenant_id)
            .is_some_and(|t| t.max_active_tasks.is_some() || t.submissions_per_minute.is_some());
        if limited {
            let usage = store::lock_usage(conn, *tenant_id).await?;
            store::save_usage(conn, *tenant_id, quota::count_scheduled(usage, *n)).await?;
        }
    }
    let cancelled = cancel_replaced(conn, services, &replaced, now, out).await?;
    record_new(conn, &created, out).await?;
    for (record, reason) in &refused {
        let Event::ScheduledTaskTriggered(t) = &record.event else {
            continue;
        };
        let meta = EventMeta::new(
            now,
            &t.meta.correlation_id,
            t.meta.tenant_id,
            &services.producer_name,
        )
        .caused_by(&t.meta);
        let answer = Event::from(ScheduledTaskRefused {
            meta,
            schedule_id: t.schedule_id,
            fire_time: t.fire_time,
            task_id: t.task_id,
            reason: reason.clone(),
        });
        let span = record.span();
        out.push(answer, span.in_scope(current_trace));
        out.park(record.event.clone(), dead_letter_topic, reason, span);
    }
    Ok(Triggered {
        created: created.len(),
        created_kinds,
        refused: refused.len(),
        cancelled,
    })
}

/// Records a cancel request for each run a `cancel_other` trigger replaces — when it is still
/// this schedule's task of this tenant and has not ended — in the caller's transaction; returns
/// how many were recorded.
async fn cancel_replaced(
    conn: &mut Conn,
    services: &Services,
    replaced: &[(&ConsumedRecord, &ScheduledTaskTriggered, Uuid)],
    now: i64,
    out: &mut Outgoing,
) -> Result<usize, ServiceError> {
    if replaced.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = replaced.iter().map(|(_, _, id)| *id).collect();
    let mut runs: HashMap<Uuid, TaskView> = store::lock_tasks(conn, &ids)
        .await?
        .into_iter()
        .map(|task| (task.id, task))
        .collect();
    let mut recorded = 0;
    for (consumed, t, previous) in replaced {
        let span = consumed.span();
        let Some(run) = runs.get(previous).filter(|run| {
            run.tenant_id == t.meta.tenant_id && run.schedule_id == Some(t.schedule_id)
        }) else {
            tracing::warn!(parent: &span, task_id = %previous, schedule_id = %t.schedule_id, "cancel_other names no task of this schedule; nothing cancelled");
            continue;
        };
        let meta = EventMeta::new(
            now,
            &t.meta.correlation_id,
            t.meta.tenant_id,
            &services.producer_name,
        )
        .caused_by(&t.meta);
        let reason = format!(
            "replaced by the schedule's next run (overlap cancel_other), task {}",
            t.task_id
        );
        // Ended already, or asked before: nothing to do.
        let Ok(Some(request)) = decide_cancel(run, meta, Some(reason)) else {
            continue;
        };
        let after = record(conn, run, &request.into(), out)
            .instrument(span.clone())
            .await?;
        tracing::info!(parent: &span, task_id = %previous, schedule_id = %t.schedule_id, "previous run asked to cancel (overlap cancel_other)");
        runs.insert(after.id, after);
        recorded += 1;
    }
    Ok(recorded)
}
