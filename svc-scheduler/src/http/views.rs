//! What the API answers about schedules and occurrences.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::store::{OccurrenceRow, ScheduleRow};

#[derive(Debug, Serialize)]
pub struct ScheduleView {
    pub id: Uuid,
    #[serde(flatten)]
    pub definition: Value,
    /// The next instant that will be decided, and when it runs (instant + jitter); null when
    /// the schedule will not fire again.
    pub next_instant: Option<DateTime<Utc>>,
    pub next_run_at: Option<DateTime<Utc>>,
    /// Set while an instant waits for this task to end (overlap buffer).
    pub waiting_for_task: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&ScheduleRow> for ScheduleView {
    fn from(row: &ScheduleRow) -> Self {
        let mut definition = row.definition.clone();
        if let Some(fields) = definition.as_object_mut() {
            fields.insert("paused".into(), row.paused.into());
        }
        Self {
            id: row.id,
            definition,
            next_instant: row.next_nominal,
            next_run_at: row.next_fire_at,
            waiting_for_task: row.waiting_for_task,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct OccurrenceView {
    pub nominal_time: DateTime<Utc>,
    /// triggered, refused (svc-tasks could not create its task; reason says why), skipped or missed
    pub outcome: String,
    pub reason: Option<String>,
    pub task_id: Option<Uuid>,
    pub task_ended: bool,
    pub decided_at: DateTime<Utc>,
}

impl From<OccurrenceRow> for OccurrenceView {
    fn from(row: OccurrenceRow) -> Self {
        Self {
            nominal_time: row.nominal_time,
            outcome: row.outcome,
            reason: row.reason,
            task_id: row.task_id,
            task_ended: row.task_ended,
            decided_at: row.fired_at,
        }
    }
}
