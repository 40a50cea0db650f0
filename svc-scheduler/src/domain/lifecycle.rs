//! What a schedule's life announces on the bus: which lifecycle event a change is, if it is one
//! at all, and the two records it writes — the event (`taskflow.schedules.lifecycle.v1`) and
//! the schedule's state after it (the compacted `taskflow.schedules.state.v1`). Pure: the
//! service hands in the definitions, the times and the events' metadata.

use chrono::{DateTime, Utc};
use serde_json::Value;
use taskflow_schemas::{
    Event, EventMeta, Priority, ScheduleChanged, ScheduleCreated, ScheduleDeleted, SchedulePaused,
    ScheduleResumed, ScheduleSettings, ScheduleState,
};
use uuid::Uuid;

use super::definition::Definition;

/// A change in a schedule's life that readers of the bus are told of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lifecycle {
    Created,
    /// The settings (by their API names) a change altered; never empty.
    Changed(Vec<String>),
    Paused,
    Resumed {
        skipped_instants: usize,
    },
    Deleted,
}

impl Lifecycle {
    /// A PATCH is news only when the definition it leaves differs from the one it found: a
    /// PATCH that sets what is already set changes nothing (the row stays as it is).
    pub fn of_patch(before: &Definition, after: &Definition) -> Option<Lifecycle> {
        let fields = changed_fields(before, after);
        (!fields.is_empty()).then_some(Lifecycle::Changed(fields))
    }

    /// Pausing again with the note it has changes nothing; a paused schedule given another
    /// note is paused anew (the event carries the note).
    pub fn of_pause(before: &Definition, after: &Definition) -> Option<Lifecycle> {
        (!before.paused || before.note != after.note).then_some(Lifecycle::Paused)
    }

    /// Resuming a schedule that runs changes nothing.
    pub fn of_resume(was_paused: bool, skipped_instants: usize) -> Option<Lifecycle> {
        was_paused.then_some(Lifecycle::Resumed { skipped_instants })
    }
}

/// The top-level settings whose values differ, sorted by name.
pub fn changed_fields(before: &Definition, after: &Definition) -> Vec<String> {
    let (Ok(Value::Object(before)), Ok(Value::Object(after))) =
        (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return Vec::new();
    };
    let mut changed: Vec<String> = after
        .iter()
        .filter(|(key, value)| before.get(key.as_str()) != Some(value))
        .map(|(key, _)| key.clone())
        .collect();
    changed.sort_unstable();
    changed
}

/// The schedule an event is about, as it stands after the change (as it stood, for a delete).
pub struct Subject<'a> {
    pub id: Uuid,
    pub definition: &'a Definition,
    pub anchor: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

impl Subject<'_> {
    /// The settings as the contracts spell them.
    pub fn settings(&self) -> ScheduleSettings {
        let d = self.definition;
        let task = &d.task;
        let millis = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp_millis());
        // A cron spec without a zone is matched in UTC: say so rather than leave readers to
        // know the default.
        let timezone = d
            .spec
            .cron
            .as_ref()
            .map(|_| d.spec.timezone.clone().unwrap_or_else(|| "UTC".into()));
        ScheduleSettings {
            name: d.name.trim().to_owned(),
            cron: d.spec.cron.clone(),
            timezone,
            every: d.spec.every.clone(),
            at: millis(d.spec.at),
            start_at: millis(d.start_at),
            end_at: millis(d.end_at),
            jitter: d.jitter.clone(),
            overlap: d.overlap.as_str().to_owned(),
            catchup_window: d.catchup_window.clone(),
            paused: d.paused,
            note: d.note.clone(),
            task_type: task.task_type.clone(),
            priority: task.priority().unwrap_or(Priority::Normal),
            payload_json: task.payload.to_string(),
            max_attempts: task.max_attempts,
            timeout_ms: task.timeout_ms,
            labels: task.labels.clone(),
            anchor: self.anchor.timestamp_millis(),
        }
    }
}

/// The lifecycle event of `what` and the schedule's state after it, in that order. The state
/// record is caused by the event (`state_meta` gets its causation and correlation).
pub fn announce(
    what: Lifecycle,
    subject: &Subject<'_>,
    meta: EventMeta,
    state_meta: EventMeta,
) -> [Event; 2] {
    let schedule_id = subject.id;
    let settings = subject.settings();
    let state = ScheduleState {
        meta: state_meta.caused_by(&meta),
        schedule_id,
        settings: settings.clone(),
        deleted: what == Lifecycle::Deleted,
        created_at: subject.created_at.timestamp_millis(),
        updated_at: meta.occurred_at,
    };
    let event = match what {
        Lifecycle::Created => ScheduleCreated {
            meta,
            schedule_id,
            settings,
        }
        .into(),
        Lifecycle::Changed(changed_fields) => ScheduleChanged {
            meta,
            schedule_id,
            settings,
            changed_fields,
        }
        .into(),
        Lifecycle::Paused => SchedulePaused {
            meta,
            schedule_id,
            settings,
        }
        .into(),
        Lifecycle::Resumed { skipped_instants } => ScheduleResumed {
            meta,
            schedule_id,
            settings,
            skipped_instants: i32::try_from(skipped_instants).unwrap_or(i32::MAX),
        }
        .into(),
        Lifecycle::Deleted => ScheduleDeleted {
            meta,
            schedule_id,
            settings,
        }
        .into(),
    };
    [event, state.into()]
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
