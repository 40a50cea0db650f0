//! A schedule's definition as the API takes it (and as it is stored), checked and turned into
//! the rules' types.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use taskflow_schemas::{EventMeta, Priority, ScheduledTaskTriggered};
use uuid::Uuid;

use super::options::{Overlap, Window};
use super::spec::{Spec, SpecInput, parse_duration};
use super::template::{TaskTemplate, TemplateProblem};

/// Default catch-up window: instants up to an hour late still run after an outage.
pub const DEFAULT_CATCHUP: &str = "PT1H";

/// A schedule's name: at most this many characters (Unicode scalar values).
pub const MAX_NAME_CHARS: usize = 200;
/// A pause note: at most this many characters.
pub const MAX_NOTE_CHARS: usize = 2_000;

/// Why `note` cannot be stored, if it cannot.
pub fn note_problem(note: &str) -> Option<String> {
    (note.chars().count() > MAX_NOTE_CHARS || note.contains('\0'))
        .then(|| format!("at most {MAX_NOTE_CHARS} characters, no NUL"))
}

/// Everything a client sets about a schedule (`POST /v1/schedules`; `PATCH` changes parts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    pub name: String,
    pub task: TaskTemplate,
    pub spec: SpecInput,
    #[serde(default)]
    pub start_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub end_at: Option<DateTime<Utc>>,
    /// ISO-8601 duration, e.g. PT10S; each run starts up to this much after its instant.
    #[serde(default)]
    pub jitter: Option<String>,
    #[serde(default)]
    pub overlap: Overlap,
    /// ISO-8601 duration; instants older than this when the scheduler gets to them are missed.
    #[serde(default)]
    pub catchup_window: Option<String>,
    #[serde(default)]
    pub paused: bool,
    #[serde(default)]
    pub note: Option<String>,
}

/// The parsed rules of a schedule.
pub struct ScheduleModel {
    pub spec: Spec,
    pub window: Window,
    pub jitter: Duration,
    pub overlap: Overlap,
    pub catchup_window: Duration,
    pub task: TaskTemplate,
}

impl Definition {
    /// Every problem at once, located by JSON pointer; the model when there are none. Also
    /// refuses what could not be created now: a window ending before it starts, a spec that
    /// never fires again, more than `max_per_second` fires a second.
    pub fn check(
        &self,
        now: DateTime<Utc>,
        max_per_second: f64,
    ) -> Result<ScheduleModel, Vec<TemplateProblem>> {
        let labels = self.task.check_labels_for_tasks();
        let model = self.model().map_err(|mut problems| {
            problems.extend(labels.iter().cloned());
            problems
        })?;
        if !labels.is_empty() {
            return Err(labels);
        }
        if let Err(e) = super::options::validate(
            &model.spec,
            &model.window,
            self.anchor(now),
            now,
            max_per_second,
        ) {
            return Err(vec![TemplateProblem {
                pointer: "/spec".into(),
                message: e.to_string(),
            }]);
        }
        Ok(model)
    }

    /// The rules, parsed; every problem at once.
    pub fn model(&self) -> Result<ScheduleModel, Vec<TemplateProblem>> {
        let mut problems = self.task.check();
        let mut problem = |pointer: &str, message: String| {
            problems.push(TemplateProblem {
                pointer: pointer.into(),
                message,
            });
        };
        if self.name.trim().is_empty()
            || self.name.chars().count() > MAX_NAME_CHARS
            || self.name.contains('\0')
        {
            problem(
                "/name",
                format!("1 to {MAX_NAME_CHARS} characters, not only white space, no NUL"),
            );
        }
        if let Some(message) = self.note.as_deref().and_then(note_problem) {
            problem("/note", message);
        }
        let mut duration = |pointer: &str, text: Option<&str>, default: &str| {
            parse_duration(text.unwrap_or(default))
                .map_err(|e| problem(pointer, e.to_string()))
                .ok()
        };
        let jitter = duration("/jitter", self.jitter.as_deref(), "PT0S");
        let catchup = duration(
            "/catchup_window",
            self.catchup_window.as_deref(),
            DEFAULT_CATCHUP,
        );
        let spec = Spec::parse(&self.spec)
            .map_err(|e| problems_push(&mut problems, "/spec", e.to_string()))
            .ok();
        match (spec, jitter, catchup) {
            (Some(spec), Some(jitter), Some(catchup_window)) if problems.is_empty() => {
                Ok(ScheduleModel {
                    spec,
                    window: Window {
                        start_at: self.start_at.map(|t| t.trunc_subsecs(3)),
                        end_at: self.end_at.map(|t| t.trunc_subsecs(3)),
                    },
                    jitter,
                    overlap: self.overlap,
                    catchup_window,
                    task: self.task.clone(),
                })
            }
            _ => Err(problems),
        }
    }

    /// Where fixed-interval schedules count from.
    pub fn anchor(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.start_at.unwrap_or(now).trunc_subsecs(3)
    }
}

fn problems_push(problems: &mut Vec<TemplateProblem>, pointer: &str, message: String) {
    problems.push(TemplateProblem {
        pointer: pointer.into(),
        message,
    });
}

impl ScheduleModel {
    /// The rules of a stored definition (the `definition` column); why it cannot be read, if
    /// it cannot (it was stored by this service, so that is a fault of ours).
    pub fn from_stored(definition: &serde_json::Value) -> Result<Self, String> {
        let definition: Definition =
            serde_json::from_value(definition.clone()).map_err(|e| e.to_string())?;
        definition.model().map_err(|problems| {
            problems
                .into_iter()
                .map(|p| format!("{}: {}", p.pointer, p.message))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// The first instant at or after `from` (within the window), and when it fires.
    pub fn first_from(
        &self,
        schedule_id: Uuid,
        anchor: DateTime<Utc>,
        from: DateTime<Utc>,
    ) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let after = (from - Duration::milliseconds(1)).max(
            self.window
                .start_at
                .map(|s| s - Duration::milliseconds(1))
                .unwrap_or(from - Duration::milliseconds(1)),
        );
        let nominal = self
            .spec
            .next_after(after, anchor)
            .filter(|n| self.window.end_at.is_none_or(|end| *n <= end));
        let fire_at = nominal.map(|n| {
            let next = self.spec.next_after(n, anchor);
            n + super::jitter::jitter(schedule_id, n, next, self.jitter)
        });
        (nominal, fire_at)
    }

    /// The trigger event of one instant.
    pub fn trigger(
        &self,
        meta: EventMeta,
        schedule_id: Uuid,
        nominal: DateTime<Utc>,
        task_id: Uuid,
        cancel: Option<Uuid>,
    ) -> ScheduledTaskTriggered {
        let t = &self.task;
        ScheduledTaskTriggered {
            meta,
            schedule_id,
            fire_time: nominal.timestamp_millis(),
            task_id,
            task_type: t.task_type.clone(),
            priority: t.priority().unwrap_or(Priority::Normal),
            payload_json: t.payload.to_string(),
            max_attempts: t.max_attempts,
            timeout_ms: t.timeout_ms,
            labels: t.labels.clone(),
            cancel_task_id: cancel.map(|id| id.to_string()),
        }
    }
}
