//! What svc-scheduler follows: API keys (who may call; applied to the platform's key directory,
//! [`taskflow_platform::keys`]), the ends of the tasks it started (an overlap policy needs to
//! know whether the previous run still goes) and svc-tasks' refusals of its triggers (a run that
//! never starts has ended too, and the occurrence says why). One transaction per consumed batch,
//! deduplicated by event id (a task's end by the occurrence's own ended flag). Endings and
//! refusals are input facts, not the scheduler's decisions: besides marking the occurrence they
//! are recorded (`run_endings`) for a rebuild of the occurrences from the log.

use diesel_async::AsyncConnection;
use taskflow_platform::db::DbPool;
use taskflow_platform::{BatchHandler, ConsumedRecord};
use taskflow_schemas::Event;
use uuid::Uuid;

use crate::domain::occurrence::refused_reason;
use crate::store::{self, StoreError};

pub struct Ingest {
    pub db: DbPool,
}

impl BatchHandler for Ingest {
    type Error = StoreError;

    async fn handle(&mut self, batch: &[ConsumedRecord]) -> Result<(), StoreError> {
        let relevant: Vec<&ConsumedRecord> = batch
            .iter()
            .filter(|r| {
                matches!(
                    r.event,
                    Event::ApiKeyIssued(_)
                        | Event::ApiKeyRevoked(_)
                        | Event::ScheduledTaskRefused(_)
                ) || (r.event.is_terminal() && may_be_scheduled(r.event.key()))
            })
            .collect();
        // Most of what the requests and lifecycle topics carry is not for the scheduler: no
        // transaction (and no commit) for a batch without anything it follows. Under a load of
        // submitted tasks that was 0.23 commits per task for nothing.
        if relevant.is_empty() {
            return Ok(());
        }
        let mut conn = self.db.get().await?;
        let refusals = conn.transaction::<_, StoreError, _>(async move |conn| {
            // A task's end marks its occurrence ended only while it is not (an idempotent
            // guard): those, the bulk of the traffic, need no inbox row. Keys and refusals do.
            let ids: Vec<Uuid> = relevant
                .iter()
                .filter(|r| !r.event.is_terminal())
                .map(|r| r.event.meta().event_id)
                .collect();
            let mut new = taskflow_platform::inbox::record_all(conn, &ids).await?;
            if relevant.iter().any(|r| !matches!(r.event, Event::ApiKeyIssued(_) | Event::ApiKeyRevoked(_))) {
                store::hold_endings_shared(conn).await?;
            }
            let mut ended = Vec::new();
            let mut refused = Vec::new();
            for record in relevant {
                if !record.event.is_terminal() && !new.remove(&record.event.meta().event_id) {
                    continue;
                }
                match &record.event {
                    Event::ApiKeyIssued(_) | Event::ApiKeyRevoked(_) => {
                        taskflow_platform::keys::apply(conn, &record.event).await?;
                    }
                    Event::ScheduledTaskRefused(e) => {
                        store::record_refusal(conn, e.task_id, &e.reason).await?;
                        let reason = refused_reason(&e.reason);
                        if store::mark_trigger_refused(conn, e.task_id, &reason).await? > 0 {
                            tracing::warn!(schedule_id = %e.schedule_id, task_id = %e.task_id, reason = %e.reason, "svc-tasks refused a trigger; no task for this instant");
                            refused.push(e.task_id);
                        }
                    }
                    other => ended.push(other.key()),
                }
            }
            let refusals = refused.len() as u64;
            let mut released = refused;
            if !ended.is_empty() {
                store::record_endings(conn, &ended).await?;
            }
            if !ended.is_empty() && store::mark_task_ended(conn, &ended).await? > 0 {
                released.extend(ended);
            }
            if !released.is_empty() {
                store::schedules_waiting_for(conn, &released).await?;
            }
            Ok(refusals)
        })
        .await?;
        if refusals > 0 {
            taskflow_platform::metrics::SCHEDULE_OCCURRENCES
                .with_label_values(&["refused"])
                .inc_by(refusals);
        }
        Ok(())
    }
}

/// Whether a task may have been started by a schedule: every one of them has a name-based
/// (version 5) id (`domain::firing::task_id`), while svc-tasks gives submitted tasks
/// time-ordered (version 7) ones. A client-made v5 id only costs a lookup that finds nothing.
fn may_be_scheduled(task_id: Uuid) -> bool {
    task_id.get_version_num() == 5
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use uuid::Uuid;

    use super::may_be_scheduled;
    use crate::domain::firing::task_id;

    #[test]
    fn scheduled_task_ids_are_told_from_submitted_ones() {
        let instant = Utc.with_ymd_and_hms(2026, 12, 7, 20, 0, 0).unwrap();
        assert!(may_be_scheduled(task_id(Uuid::now_v7(), instant)));
        assert!(!may_be_scheduled(Uuid::now_v7()), "svc-tasks' own ids");
    }
}
