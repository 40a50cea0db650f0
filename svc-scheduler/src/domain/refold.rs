//! The projections as svc-scheduler's log tells them: one schedule's events (its outbox rows,
//! in log order) folded into its `schedules` row and its `occurrences`. Pure: the service reads
//! the events, the runs' endings (input facts) and the time, and writes what this returns.
//!
//! What the log says and what is derived:
//! - The row's settings (`name`, `definition`, `paused`, `anchor`), `tenant_id`, `created_at`
//!   and `updated_at` (the last change of its settings) are in the lifecycle events and state
//!   records; `definition` is stored in the canonical form the settings spell
//!   (`domain::settings`).
//! - `next_nominal`/`next_fire_at` are derived: a creation, change or resume plans from its own
//!   time (as the service does); each instant the firer decided moves it past that instant; the
//!   firer's jitter is a function of the schedule and the instant.
//! - Who asked for a trigger is derived: the firer decides the instants of the timetable in
//!   order from where the schedule stands, so a trigger at that instant or later, on the
//!   timetable, of a running schedule is the firer's; any other is a person's: by hand when its
//!   instant is the moment it was asked for (a manual run is recorded at "now"), else a backfill.
//! - `waiting_for_task` is what the firer decided when the next instant came due (overlap
//!   buffers), given the runs' endings.
//! - An occurrence's `task_ended`, and a refused trigger, are not the scheduler's decisions
//!   but what it learnt from svc-tasks: they come in as [`RunEnd`]s.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use taskflow_schemas::{
    Event, EventMeta, ScheduleOccurrenceSkipped, ScheduleSettings, ScheduledTaskTriggered,
};
use uuid::Uuid;

use super::definition::{Definition, ScheduleModel};
use super::firing::Schedule;
use super::occurrence::{Origin, Outcome, refused_reason, skip_reason, trigger_reason};

/// How a run the scheduler started ended, as svc-scheduler learnt it from svc-tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// The task reached a terminal status.
    Ended,
    /// svc-tasks refused the trigger, for this reason: no task ran.
    Refused(String),
}

/// A `schedules` row as the log tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectedSchedule {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub definition: serde_json::Value,
    pub paused: bool,
    pub anchor: DateTime<Utc>,
    pub next_nominal: Option<DateTime<Utc>>,
    pub next_fire_at: Option<DateTime<Utc>>,
    pub waiting_for_task: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An `occurrences` row as the log tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectedOccurrence {
    pub nominal_time: DateTime<Utc>,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub task_id: Option<Uuid>,
    pub task_ended: bool,
    pub fired_at: DateTime<Utc>,
}

/// What the log says of one schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum Projection {
    /// It exists, so.
    Live {
        schedule: ProjectedSchedule,
        occurrences: Vec<ProjectedOccurrence>,
    },
    /// It was deleted: no row, no occurrences.
    Gone,
    /// The log cannot tell it (why): its rows are left as they are.
    Untold(String),
}

/// One schedule's log, folded as it is read.
pub struct ScheduleLog {
    id: Uuid,
    life: Option<Life>,
    /// Why its latest lifecycle event cannot be read, if it cannot.
    unreadable: Option<String>,
    deleted: bool,
    decided: BTreeMap<DateTime<Utc>, Decided>,
}

struct Life {
    tenant_id: Uuid,
    definition: Definition,
    model: Option<ScheduleModel>,
    anchor: DateTime<Utc>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// When the position was last planned from scratch (a creation, change or resume).
    planned_at: DateTime<Utc>,
    /// The first instant not decided yet and when it runs.
    next: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
}

struct Decided {
    outcome: Outcome,
    reason: Option<String>,
    task_id: Option<Uuid>,
    fired_at: DateTime<Utc>,
}

fn millis(m: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(m).unwrap_or(DateTime::UNIX_EPOCH)
}

impl ScheduleLog {
    pub fn new(id: Uuid) -> Self {
        Self {
            id,
            life: None,
            unreadable: None,
            deleted: false,
            decided: BTreeMap::new(),
        }
    }

    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Folds in the next event of the log; events of other schedules, and of kinds that do not
    /// shape the projections, change nothing.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::ScheduleCreated(e) if e.schedule_id == self.id => {
                self.life = None;
                self.deleted = false;
                self.lifecycle(&e.meta, &e.settings, true);
            }
            Event::ScheduleChanged(e) if e.schedule_id == self.id => {
                self.lifecycle(&e.meta, &e.settings, true);
            }
            Event::SchedulePaused(e) if e.schedule_id == self.id => {
                self.lifecycle(&e.meta, &e.settings, false);
            }
            Event::ScheduleResumed(e) if e.schedule_id == self.id => {
                self.lifecycle(&e.meta, &e.settings, true);
            }
            Event::ScheduleDeleted(e) if e.schedule_id == self.id => {
                self.deleted = true;
                self.decided.clear();
            }
            Event::ScheduleState(e) if e.schedule_id == self.id => {
                if let Some(life) = &mut self.life {
                    life.created_at = millis(e.created_at);
                }
            }
            Event::ScheduledTaskTriggered(e) if e.schedule_id == self.id => self.triggered(e),
            Event::ScheduleOccurrenceSkipped(e) if e.schedule_id == self.id => self.skipped(e),
            _ => {}
        }
    }

    /// A change of its life at the event's time; `replan`: the service planned it again from
    /// then (creation, change, resume), as it does for the first event it is known by.
    fn lifecycle(&mut self, meta: &EventMeta, settings: &ScheduleSettings, replan: bool) {
        let at = millis(meta.occurred_at);
        let definition = match Definition::from_settings(settings) {
            Ok(definition) => definition,
            Err(reason) => {
                self.unreadable = Some(reason);
                return;
            }
        };
        self.unreadable = None;
        let model = definition.model().ok();
        let anchor = millis(settings.anchor);
        let replan = replan || self.life.is_none();
        let life = self.life.get_or_insert_with(|| Life {
            tenant_id: meta.tenant_id,
            definition: definition.clone(),
            model: None,
            anchor,
            created_at: at,
            updated_at: at,
            planned_at: at,
            next: (None, None),
        });
        life.tenant_id = meta.tenant_id;
        life.definition = definition;
        life.model = model;
        life.anchor = anchor;
        life.updated_at = at;
        if replan {
            life.planned_at = at;
            life.next = life
                .model
                .as_ref()
                .map(|m| m.first_from(self.id, anchor, at))
                .unwrap_or_default();
        }
    }

    fn triggered(&mut self, e: &ScheduledTaskTriggered) {
        let nominal = millis(e.fire_time);
        let at = millis(e.meta.occurred_at);
        let origin = self.origin(nominal, at);
        if origin == Origin::Timetable {
            self.advance_past(nominal);
        }
        let cancel = e.cancel_task_id.as_deref().and_then(|c| c.parse().ok());
        self.decided.insert(
            nominal,
            Decided {
                outcome: Outcome::Triggered,
                reason: trigger_reason(origin, cancel),
                task_id: Some(e.task_id),
                fired_at: at,
            },
        );
    }

    fn skipped(&mut self, e: &ScheduleOccurrenceSkipped) {
        let nominal = millis(e.nominal_time);
        // Skips for the time a schedule was paused are written by its resume, which plans it
        // again; every other skip is the firer's, in timetable order.
        if e.reason != "paused" && self.is_ahead(nominal) {
            self.advance_past(nominal);
        }
        self.decided.insert(
            nominal,
            Decided {
                outcome: Outcome::of_skip(&e.reason),
                reason: Some(skip_reason(
                    &e.reason,
                    e.detail.as_deref().unwrap_or_default(),
                )),
                task_id: None,
                fired_at: millis(e.meta.occurred_at),
            },
        );
    }

    /// Whether `nominal` is an instant the firer could decide now: of the running schedule's
    /// timetable, not before where it stands.
    fn is_ahead(&self, nominal: DateTime<Utc>) -> bool {
        let Some(life) = &self.life else {
            return false;
        };
        let Some(model) = &life.model else {
            return false;
        };
        let on_timetable = model
            .spec
            .next_after(nominal - Duration::milliseconds(1), life.anchor)
            == Some(nominal)
            && model.window.start_at.is_none_or(|s| nominal >= s)
            && model.window.end_at.is_none_or(|e| nominal <= e);
        !life.definition.paused && life.next.0.is_some_and(|p| nominal >= p) && on_timetable
    }

    fn origin(&self, nominal: DateTime<Utc>, asked_at: DateTime<Utc>) -> Origin {
        if self.is_ahead(nominal) {
            Origin::Timetable
        } else if nominal == asked_at {
            Origin::Manual
        } else {
            Origin::Backfill
        }
    }

    fn advance_past(&mut self, nominal: DateTime<Utc>) {
        let id = self.id;
        if let Some(life) = &mut self.life
            && let Some(schedule) = timetable(id, life, None)
        {
            life.next = schedule.standing_at(schedule.next_in_window(nominal));
        }
    }

    /// The rows the log tells, at `now`, given how the runs it started ended. `horizon`: the
    /// time before which the log may have lost occurrence events to retention; instants before
    /// it that the log shows undecided were decided (their events are gone, and so are their
    /// occurrences).
    pub fn project(
        &self,
        endings: &HashMap<Uuid, RunEnd>,
        now: DateTime<Utc>,
        horizon: Option<DateTime<Utc>>,
    ) -> Projection {
        if self.deleted {
            return Projection::Gone;
        }
        if let Some(reason) = &self.unreadable {
            return Projection::Untold(format!("its latest settings are unreadable: {reason}"));
        }
        let Some(life) = &self.life else {
            return Projection::Untold("no change of its life is in the log".into());
        };
        let occurrences = self.occurrences(endings);
        let mut next = life.next;
        if let (Some(horizon), Some(model), Some(at)) = (horizon, &life.model, next.0)
            && life.planned_at < horizon
            && at < horizon
        {
            next = model.first_from(self.id, life.anchor, horizon);
        }
        let last_run = occurrences
            .iter()
            .rev()
            .find_map(|o| o.task_id.map(|task| (task, o.task_ended)));
        // What the firer decided when the instant came due (a pass then, or the first after
        // it, would have found the same runs still going): a decision then that is not in the
        // log is a wait; one that would have written something is still the firer's to make.
        let waiting_for_task = match (life.definition.paused, next) {
            (false, (Some(at), Some(due))) if due <= now => timetable(self.id, life, last_run)
                .and_then(|mut schedule| {
                    schedule.next_nominal = at;
                    let plan = schedule.plan(due, 1);
                    plan.steps.is_empty().then_some(plan.waiting_for).flatten()
                }),
            _ => None,
        };
        let definition = &life.definition;
        Projection::Live {
            schedule: ProjectedSchedule {
                id: self.id,
                tenant_id: life.tenant_id,
                name: definition.name.trim().to_owned(),
                definition: serde_json::to_value(definition).unwrap_or_default(),
                paused: definition.paused,
                anchor: life.anchor,
                next_nominal: next.0,
                next_fire_at: next.1,
                waiting_for_task,
                created_at: life.created_at,
                updated_at: life.updated_at,
            },
            occurrences,
        }
    }

    fn occurrences(&self, endings: &HashMap<Uuid, RunEnd>) -> Vec<ProjectedOccurrence> {
        self.decided
            .iter()
            .map(|(nominal, d)| {
                let mut occurrence = ProjectedOccurrence {
                    nominal_time: *nominal,
                    outcome: d.outcome,
                    reason: d.reason.clone(),
                    task_id: d.task_id,
                    task_ended: false,
                    fired_at: d.fired_at,
                };
                match d.task_id.and_then(|task| endings.get(&task)) {
                    Some(RunEnd::Ended) => occurrence.task_ended = true,
                    Some(RunEnd::Refused(reason)) => {
                        occurrence.outcome = Outcome::Refused;
                        occurrence.reason = Some(refused_reason(reason));
                        occurrence.task_ended = true;
                    }
                    None => {}
                }
                occurrence
            })
            .collect()
    }
}

/// The schedule as the firer sees it, standing where the log left it.
fn timetable(id: Uuid, life: &Life, previous: Option<(Uuid, bool)>) -> Option<Schedule<'_>> {
    let model = life.model.as_ref()?;
    Some(Schedule {
        id,
        spec: &model.spec,
        window: &model.window,
        anchor: life.anchor,
        jitter_max: model.jitter,
        overlap: model.overlap,
        catchup_window: model.catchup_window,
        next_nominal: life.next.0.unwrap_or(life.anchor),
        previous,
    })
}

#[cfg(test)]
#[path = "refold_tests.rs"]
mod tests;
