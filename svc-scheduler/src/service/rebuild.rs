//! Rebuilding `schedules` and `occurrences` from svc-scheduler's log (the outbox), as a job of
//! the platform's rebuild room (`taskflow_platform::rebuild`): the unit is a schedule, a page
//! [`store::PAGE`] of them in one transaction, in id order.
//!
//! A page locks its schedules' rows first (those that exist), then reads their events, folds
//! them (`domain::refold`) and writes the rows the log tells in place of theirs. The firer
//! passes locked rows by (SKIP LOCKED) and decides them once the page commits, from where the
//! log left them: every writer of a schedule holds its row while it appends, so the page reads
//! every event of its schedules and no instant it restores as decided is decided again (the
//! occurrences' primary key refuses it anyway). The API waits for the row, the service keeps
//! serving the rest. A page also holds the runs' endings lock (`store::hold_endings_exclusive`),
//! so an ending the consumer records meanwhile lands on the rewritten occurrence, not on the
//! one it replaces.

use std::time::Duration;

use chrono::SubsecRound;
use taskflow_platform::clock::SharedClock;
use taskflow_platform::rebuild::{Conn, Page, Plan, Projection};
use taskflow_schemas::Event;
use uuid::Uuid;

use crate::domain::refold::{self, ProjectedOccurrence, ProjectedSchedule, ScheduleLog};
use crate::store::{self, OccurrenceRow, ScheduleRow, StoreError};

/// svc-scheduler's projections, as the rebuild room sees them.
pub struct Schedules {
    pub clock: SharedClock,
    /// How long the log keeps what became of the instants
    /// ([`crate::config::SchedulerConfig::decided_retention`]).
    pub decided_retention: Duration,
}

impl Projection for Schedules {
    const UNIT: &'static str = "schedules";
    /// The log's position when the job started: the schedules it knew then are refolded.
    type Bound = i64;
    /// The last schedule refolded.
    type Cursor = Uuid;
    type Error = StoreError;

    async fn plan(&self, conn: &mut Conn) -> Result<Plan<i64>, StoreError> {
        let bound = store::log_position(conn).await?;
        let total = store::count_logged_schedules(conn, bound).await?;
        Ok(Plan { bound, total })
    }

    async fn refold_page(
        &self,
        conn: &mut Conn,
        bound: &i64,
        after: Option<&Uuid>,
    ) -> Result<Option<Page<Uuid>>, StoreError> {
        let ids = store::logged_schedules_after(conn, *bound, after.copied(), store::PAGE).await?;
        let Some(last) = ids.last().copied() else {
            return Ok(None);
        };
        store::hold_endings_exclusive(conn).await?;
        store::lock_schedules(conn, &ids).await?;
        let mut logs: Vec<ScheduleLog> = ids.iter().map(|id| ScheduleLog::new(*id)).collect();
        let mut tasks = Vec::new();
        for row in store::logs_of(conn, &ids).await? {
            let event = row.to_event()?;
            if let Event::ScheduledTaskTriggered(e) = &event {
                tasks.push(e.task_id);
            }
            let id = event.key();
            if let Ok(at) = ids.binary_search(&id) {
                logs[at].apply(&event);
            }
        }
        let endings = store::run_endings(conn, &tasks).await?;
        let now = self.clock.now().trunc_subsecs(3);
        let horizon = chrono::Duration::from_std(self.decided_retention)
            .ok()
            .map(|keep| now - keep);
        for log in &logs {
            match log.project(&endings, now, horizon) {
                refold::Projection::Live {
                    schedule,
                    occurrences,
                } => {
                    let rows: Vec<OccurrenceRow> = occurrences
                        .iter()
                        .map(|o| occurrence_row(schedule.id, o))
                        .collect();
                    store::replace_schedule(conn, &schedule_row(schedule), &rows).await?;
                }
                refold::Projection::Gone => store::remove_schedule(conn, log.id()).await?,
                refold::Projection::Untold(why) => {
                    tracing::warn!(schedule_id = %log.id(), why, "the log cannot tell this schedule; its rows are left as they are");
                }
            }
        }
        Ok(Some(Page {
            count: ids.len() as i64,
            last,
        }))
    }

    async fn wipe(&self, conn: &mut Conn) -> Result<(), StoreError> {
        store::wipe_projections(conn).await
    }
}

fn schedule_row(s: ProjectedSchedule) -> ScheduleRow {
    ScheduleRow {
        id: s.id,
        tenant_id: s.tenant_id,
        name: s.name,
        definition: s.definition,
        paused: s.paused,
        anchor: s.anchor,
        next_nominal: s.next_nominal,
        next_fire_at: s.next_fire_at,
        waiting_for_task: s.waiting_for_task,
        created_at: s.created_at,
        updated_at: s.updated_at,
    }
}

fn occurrence_row(schedule_id: Uuid, o: &ProjectedOccurrence) -> OccurrenceRow {
    OccurrenceRow {
        schedule_id,
        nominal_time: o.nominal_time,
        outcome: o.outcome.as_str().into(),
        reason: o.reason.clone(),
        task_id: o.task_id,
        task_ended: o.task_ended,
        fired_at: o.fired_at,
    }
}
