//! The fold against the service's own rules: a small stand-in for the service (`Service`)
//! drives the same domain calls the use cases and the firer make, writes the events they write,
//! and keeps the rows they keep; folding its log must give those rows back.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use taskflow_schemas::{Event, EventMeta, ScheduleOccurrenceSkipped};
use uuid::Uuid;

use super::{ProjectedOccurrence, ProjectedSchedule, Projection, RunEnd, ScheduleLog};
use crate::domain::definition::{Definition, ScheduleModel};
use crate::domain::firing::{Schedule, Step, task_id};
use crate::domain::lifecycle::{Lifecycle, Subject, announce};
use crate::domain::occurrence::{Origin, Outcome, skip_reason, trigger_reason};
use crate::domain::options::occurrences as instants;
use crate::domain::test_time::utc;

/// What the service keeps of one schedule, and the log it writes.
struct Service {
    row: ProjectedSchedule,
    definition: Definition,
    occurrences: BTreeMap<DateTime<Utc>, ProjectedOccurrence>,
    endings: HashMap<Uuid, RunEnd>,
    log: Vec<Event>,
}

fn meta(at: DateTime<Utc>, tenant: Uuid) -> EventMeta {
    EventMeta::new(at.timestamp_millis(), "test", tenant, "svc-scheduler/test")
}

impl Service {
    fn create(definition: Value, at: DateTime<Utc>) -> Self {
        let definition: Definition = serde_json::from_value(definition).expect("definition");
        let definition = definition.canonical();
        let model = definition.check(at, 1.0).expect("accepted");
        let id = Uuid::now_v7();
        let anchor = definition.anchor(at);
        let (next_nominal, next_fire_at) = model.first_from(id, anchor, at);
        let mut service = Self {
            row: ProjectedSchedule {
                id,
                tenant_id: Uuid::new_v4(),
                name: definition.name.clone(),
                definition: serde_json::to_value(&definition).expect("json"),
                paused: definition.paused,
                anchor,
                next_nominal,
                next_fire_at,
                waiting_for_task: None,
                created_at: at,
                updated_at: at,
            },
            definition,
            occurrences: BTreeMap::new(),
            endings: HashMap::new(),
            log: Vec::new(),
        };
        service.announce(Lifecycle::Created, at);
        service
    }

    fn model(&self) -> ScheduleModel {
        self.definition.model().expect("model")
    }

    fn announce(&mut self, what: Lifecycle, at: DateTime<Utc>) {
        let subject = Subject {
            id: self.row.id,
            definition: &self.definition,
            anchor: self.row.anchor,
            created_at: self.row.created_at,
        };
        let tenant = self.row.tenant_id;
        self.log
            .extend(announce(what, &subject, meta(at, tenant), meta(at, tenant)));
    }

    fn set(&mut self, definition: Definition, at: DateTime<Utc>) {
        self.definition = definition;
        self.row.definition = serde_json::to_value(&self.definition).expect("json");
        self.row.name = self.definition.name.clone();
        self.row.paused = self.definition.paused;
        self.row.updated_at = at;
    }

    fn last_run(&self) -> Option<(Uuid, bool)> {
        self.occurrences
            .values()
            .rev()
            .find_map(|o| o.task_id.map(|t| (t, o.task_ended)))
    }

    /// `service::record`.
    fn record(&mut self, steps: &[Step], origin: Origin, at: DateTime<Utc>) {
        let model = self.model();
        for step in steps {
            let meta = meta(at, self.row.tenant_id);
            let (occurrence, event) = match step {
                Step::Trigger {
                    nominal,
                    task_id,
                    cancel,
                } => (
                    ProjectedOccurrence {
                        nominal_time: *nominal,
                        outcome: Outcome::Triggered,
                        reason: trigger_reason(origin, *cancel),
                        task_id: Some(*task_id),
                        task_ended: false,
                        fired_at: at,
                    },
                    Event::from(model.trigger(meta, self.row.id, *nominal, *task_id, *cancel)),
                ),
                Step::Skip {
                    nominal,
                    reason,
                    detail,
                } => (
                    ProjectedOccurrence {
                        nominal_time: *nominal,
                        outcome: Outcome::of_skip(reason),
                        reason: Some(skip_reason(reason, detail)),
                        task_id: None,
                        task_ended: false,
                        fired_at: at,
                    },
                    Event::from(ScheduleOccurrenceSkipped {
                        meta,
                        schedule_id: self.row.id,
                        nominal_time: nominal.timestamp_millis(),
                        reason: (*reason).into(),
                        detail: Some(detail.clone()),
                    }),
                ),
            };
            self.occurrences.insert(occurrence.nominal_time, occurrence);
            self.log.push(event);
        }
    }

    /// A firer pass at `now` (`firer::decide`).
    fn fire(&mut self, now: DateTime<Utc>) {
        if self.row.paused || self.row.waiting_for_task.is_some() {
            return;
        }
        let Some(next_nominal) = self.row.next_nominal else {
            return;
        };
        if self.row.next_fire_at.is_some_and(|at| at > now) {
            return;
        }
        let model = self.model();
        let plan = Schedule {
            id: self.row.id,
            spec: &model.spec,
            window: &model.window,
            anchor: self.row.anchor,
            jitter_max: model.jitter,
            overlap: model.overlap,
            catchup_window: model.catchup_window,
            next_nominal,
            previous: self.last_run(),
        }
        .plan(now, 1_000);
        self.record(&plan.steps, Origin::Timetable, now);
        self.row.next_nominal = plan.next_nominal;
        self.row.next_fire_at = plan.next_fire_at;
        self.row.waiting_for_task = plan.waiting_for;
    }

    fn manual(&mut self, now: DateTime<Utc>) {
        let steps = [Step::Trigger {
            nominal: now,
            task_id: task_id(self.row.id, now),
            cancel: None,
        }];
        self.record(&steps, Origin::Manual, now);
    }

    fn backfill(&mut self, from: DateTime<Utc>, to: DateTime<Utc>, now: DateTime<Utc>) {
        let model = self.model();
        let steps: Vec<Step> = instants(&model.spec, &model.window, self.row.anchor, from, to, 100)
            .into_iter()
            .filter(|n| !self.occurrences.contains_key(n))
            .map(|nominal| Step::Trigger {
                nominal,
                task_id: task_id(self.row.id, nominal),
                cancel: None,
            })
            .collect();
        self.record(&steps, Origin::Backfill, now);
    }

    fn pause(&mut self, at: DateTime<Utc>) {
        let mut definition = self.definition.clone();
        definition.paused = true;
        definition.note = Some("maintenance".into());
        self.set(definition, at);
        self.announce(Lifecycle::Paused, at);
    }

    fn resume(&mut self, at: DateTime<Utc>) {
        let model = self.model();
        let from = self.row.next_nominal.expect("a next instant");
        let steps: Vec<Step> = instants(
            &model.spec,
            &model.window,
            self.row.anchor,
            from - Duration::milliseconds(1),
            at,
            1_000,
        )
        .into_iter()
        .map(|nominal| Step::Skip {
            nominal,
            reason: "paused",
            detail: "the schedule was paused at this instant".into(),
        })
        .collect();
        self.record(&steps, Origin::Timetable, at);
        let mut definition = self.definition.clone();
        definition.paused = false;
        self.set(definition, at);
        (self.row.next_nominal, self.row.next_fire_at) =
            model.first_from(self.row.id, self.row.anchor, at);
        self.row.waiting_for_task = None;
        self.announce(
            Lifecycle::Resumed {
                skipped_instants: steps.len(),
            },
            at,
        );
    }

    fn change_every(&mut self, every: &str, at: DateTime<Utc>) {
        let before = self.definition.clone();
        let mut definition = self.definition.clone();
        definition.spec.every = Some(every.into());
        let model = definition.check(at, 1.0).expect("accepted");
        (self.row.next_nominal, self.row.next_fire_at) =
            model.first_from(self.row.id, self.row.anchor, at);
        self.row.waiting_for_task = None;
        self.set(definition, at);
        let what = Lifecycle::of_patch(&before, &self.definition).expect("news");
        self.announce(what, at);
    }

    /// The consumer learning that `task` ended (`ingest`).
    fn ended(&mut self, task: Uuid, now: DateTime<Utc>) {
        self.endings.insert(task, RunEnd::Ended);
        for o in self.occurrences.values_mut() {
            if o.task_id == Some(task) {
                o.task_ended = true;
            }
        }
        if self.row.waiting_for_task == Some(task) {
            self.row.waiting_for_task = None;
            self.row.next_fire_at = Some(now);
        }
    }

    fn refused(&mut self, task: Uuid, reason: &str) {
        self.endings.insert(task, RunEnd::Refused(reason.into()));
        for o in self.occurrences.values_mut() {
            if o.task_id == Some(task) && o.outcome == Outcome::Triggered {
                o.outcome = Outcome::Refused;
                o.reason = Some(format!("refused by svc-tasks: {reason}"));
                o.task_ended = true;
            }
        }
    }

    fn expected(&self) -> Projection {
        Projection::Live {
            schedule: self.row.clone(),
            occurrences: self.occurrences.values().cloned().collect(),
        }
    }

    fn refolded(&self, now: DateTime<Utc>, horizon: Option<DateTime<Utc>>) -> Projection {
        let mut log = ScheduleLog::new(self.row.id);
        for event in &self.log {
            log.apply(event);
        }
        log.project(&self.endings, now, horizon)
    }

    #[track_caller]
    fn assert_refolds(&self, now: DateTime<Utc>) {
        assert_eq!(self.refolded(now, None), self.expected());
    }
}

fn t(text: &str) -> DateTime<Utc> {
    utc(text)
}

#[test]
fn a_fixed_interval_with_jitter_refolds_to_where_the_firer_left_it() {
    let mut s = Service::create(
        json!({"name": " every minute ", "task": {"type": "noop", "priority": "HIGH"},
               "spec": {"every": "PT1M"}, "jitter": "PT20S"}),
        t("2026-12-08T10:00:00.123Z"),
    );
    s.assert_refolds(t("2026-12-08T10:00:01Z"));
    for minute in 1..=4 {
        let now = t("2026-12-08T10:00:00.123Z") + Duration::minutes(minute) + Duration::seconds(25);
        s.fire(now);
        s.assert_refolds(now);
    }
    assert_eq!(
        s.occurrences.len(),
        5,
        "the anchor and one a minute after it"
    );
}

#[test]
fn manual_runs_and_backfills_are_told_from_the_timetable() {
    let start = t("2026-12-08T10:30:00Z");
    let mut s = Service::create(
        json!({"name": "hourly", "task": {"type": "noop"}, "spec": {"cron": "0 * * * *"},
               "start_at": "2026-12-08T06:00:00Z"}),
        start,
    );
    s.fire(t("2026-12-08T11:00:00.5Z"));
    let timetable = s.last_run().expect("a run").0;
    s.manual(t("2026-12-08T11:20:00.123Z"));
    let manual = s.last_run().expect("a run").0;
    s.backfill(
        t("2026-12-08T06:30:00Z"),
        t("2026-12-08T09:30:00Z"),
        t("2026-12-08T11:30:00Z"),
    );
    s.ended(timetable, t("2026-12-08T11:40:00Z"));
    s.ended(manual, t("2026-12-08T11:40:00Z"));
    s.fire(t("2026-12-08T12:00:01Z"));
    let now = t("2026-12-08T12:10:00Z");
    s.assert_refolds(now);
    let Projection::Live { occurrences, .. } = s.refolded(now, None) else {
        panic!("live");
    };
    let reasons: Vec<Option<&str>> = occurrences.iter().map(|o| o.reason.as_deref()).collect();
    assert_eq!(
        reasons,
        [
            Some("backfill"),
            Some("backfill"),
            Some("backfill"),
            None,
            Some("manual"),
            None
        ]
    );
}

#[test]
fn pause_resume_and_change_plan_again_from_their_own_time() {
    let mut s = Service::create(
        json!({"name": "p", "task": {"type": "noop"}, "spec": {"every": "PT10S"}}),
        t("2026-12-08T10:00:00Z"),
    );
    s.fire(t("2026-12-08T10:00:21Z"));
    s.pause(t("2026-12-08T10:00:25Z"));
    s.assert_refolds(t("2026-12-08T10:00:40Z"));
    s.resume(t("2026-12-08T10:01:05.5Z"));
    s.assert_refolds(t("2026-12-08T10:01:06Z"));
    s.fire(t("2026-12-08T10:01:31Z"));
    s.change_every("PT7S", t("2026-12-08T10:01:33.25Z"));
    s.fire(t("2026-12-08T10:01:50Z"));
    s.assert_refolds(t("2026-12-08T10:01:51Z"));
    assert!(
        s.occurrences
            .values()
            .any(|o| o.reason.as_deref().is_some_and(|r| r.starts_with("paused")))
    );
}

#[test]
fn missed_and_overlapping_instants_move_the_schedule_on_and_endings_are_input_facts() {
    let mut s = Service::create(
        json!({"name": "o", "task": {"type": "noop"}, "spec": {"every": "PT1M"},
               "overlap": "skip", "catchup_window": "PT2M"}),
        t("2026-12-08T10:00:00Z"),
    );
    // Down for ten minutes: the old ones are missed, the last two fire (one skipped: the
    // first still runs).
    s.fire(t("2026-12-08T10:10:30Z"));
    s.assert_refolds(t("2026-12-08T10:10:31Z"));
    let first = s.last_run().expect("a run").0;
    s.refused(first, "unknown task type");
    s.fire(t("2026-12-08T10:11:01Z"));
    let second = s.last_run().expect("a run").0;
    s.ended(second, t("2026-12-08T10:11:30Z"));
    s.fire(t("2026-12-08T10:12:01Z"));
    s.assert_refolds(t("2026-12-08T10:12:02Z"));
    let outcomes: Vec<Outcome> = s.occurrences.values().map(|o| o.outcome).collect();
    assert!(outcomes.contains(&Outcome::Missed) && outcomes.contains(&Outcome::Refused));
}

#[test]
fn a_buffered_instant_waits_for_the_run_the_endings_say_still_goes() {
    let mut s = Service::create(
        json!({"name": "b", "task": {"type": "noop"}, "spec": {"every": "PT1M"},
               "overlap": "buffer_one"}),
        t("2026-12-08T10:00:00Z"),
    );
    s.fire(t("2026-12-08T10:01:00Z"));
    s.fire(t("2026-12-08T10:02:00Z"));
    assert!(s.row.waiting_for_task.is_some(), "buffered");
    s.assert_refolds(t("2026-12-08T10:02:01Z"));
    let run = s.last_run().expect("run").0;
    s.ended(run, t("2026-12-08T10:02:10Z"));
    s.fire(t("2026-12-08T10:02:10Z"));
    s.assert_refolds(t("2026-12-08T10:02:11Z"));
}

#[test]
fn a_deleted_schedule_is_gone_and_one_the_log_never_announced_is_left_alone() {
    let mut s = Service::create(
        json!({"name": "d", "task": {"type": "noop"}, "spec": {"every": "PT1M"}}),
        t("2026-12-08T10:00:00Z"),
    );
    s.fire(t("2026-12-08T10:01:00Z"));
    s.announce(Lifecycle::Deleted, t("2026-12-08T10:01:30Z"));
    assert_eq!(
        s.refolded(t("2026-12-08T10:02:00Z"), None),
        Projection::Gone
    );

    let mut untold = ScheduleLog::new(Uuid::now_v7());
    untold.apply(&s.log[2]);
    assert!(matches!(
        untold.project(&HashMap::new(), t("2026-12-08T10:02:00Z"), None),
        Projection::Untold(_)
    ));
}

#[test]
fn instants_before_the_retention_horizon_the_log_no_longer_shows_are_not_decided_again() {
    let created = t("2026-10-01T10:00:00Z");
    let mut s = Service::create(
        json!({"name": "once", "task": {"type": "noop"}, "spec": {"at": "2026-10-01T11:00:00Z"}}),
        created,
    );
    s.fire(t("2026-10-01T11:00:01Z"));
    assert_eq!(s.row.next_nominal, None);
    // Retention took the trigger (and its occurrence); the creation stays.
    s.log
        .retain(|e| !matches!(e, Event::ScheduledTaskTriggered(_)));
    s.occurrences.clear();
    let now = t("2026-12-08T10:00:00Z");
    let horizon = Some(now - Duration::days(30));
    assert_eq!(s.refolded(now, horizon), s.expected());
    // Without the horizon the log would plan the instant again.
    let Projection::Live { schedule, .. } = s.refolded(now, None) else {
        panic!("live");
    };
    assert_eq!(schedule.next_nominal, Some(t("2026-10-01T11:00:00Z")));
}
