//! How a decided instant is written down, by the firer and by the use cases alike: one
//! occurrence row per step (primary key (schedule, instant)) and its event for the outbox,
//! `ScheduledTaskTriggered` for a trigger, `ScheduleOccurrenceSkipped` for a skip or a miss.

use chrono::Utc;
use taskflow_schemas::{Event, EventMeta, ScheduleOccurrenceSkipped};

use super::outgoing::Outgoing;
use crate::domain::definition::ScheduleModel;
use crate::domain::firing::Step;
use crate::domain::occurrence::{Origin, Outcome, skip_reason, trigger_reason};
use crate::store::{self, Conn, OccurrenceRow, ScheduleRow, StoreError};

/// Writes the steps' occurrence rows in the caller's transaction and puts their events in
/// `out`, which the caller appends to the outbox last. `origin`: who asked for its triggers
/// (the timetable, or a person: manual, backfill). Returns how many events it put there.
pub async fn record(
    conn: &mut Conn,
    row: &ScheduleRow,
    model: &ScheduleModel,
    steps: &[Step],
    origin: Origin,
    now: chrono::DateTime<Utc>,
    out: &mut Outgoing,
) -> Result<usize, StoreError> {
    let mut occurrences = Vec::with_capacity(steps.len());
    let mut events = Vec::with_capacity(steps.len());
    let trace = taskflow_platform::headers::current_trace();
    for step in steps {
        let meta = EventMeta::new(
            now.timestamp_millis(),
            format!("schedule-{}", row.id),
            row.tenant_id,
            out.producer(),
        );
        match step {
            Step::Trigger {
                nominal,
                task_id,
                cancel,
            } => {
                occurrences.push(OccurrenceRow {
                    schedule_id: row.id,
                    nominal_time: *nominal,
                    outcome: Outcome::Triggered.as_str().into(),
                    reason: trigger_reason(origin, *cancel),
                    task_id: Some(*task_id),
                    task_ended: false,
                    fired_at: now,
                });
                events.push((
                    Event::from(model.trigger(meta, row.id, *nominal, *task_id, *cancel)),
                    trace.clone(),
                ));
            }
            Step::Skip {
                nominal,
                reason,
                detail,
            } => {
                occurrences.push(OccurrenceRow {
                    schedule_id: row.id,
                    nominal_time: *nominal,
                    outcome: Outcome::of_skip(reason).as_str().into(),
                    reason: Some(skip_reason(reason, detail)),
                    task_id: None,
                    task_ended: false,
                    fired_at: now,
                });
                events.push((
                    Event::from(ScheduleOccurrenceSkipped {
                        meta,
                        schedule_id: row.id,
                        nominal_time: nominal.timestamp_millis(),
                        reason: (*reason).into(),
                        detail: Some(detail.clone()),
                    }),
                    trace.clone(),
                ));
            }
        }
    }
    store::insert_occurrences(conn, &occurrences).await?;
    let written = events.len();
    for (event, trace) in events {
        out.push(event, trace);
    }
    Ok(written)
}
