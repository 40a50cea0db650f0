//! A definition and the settings its events carry, one the image of the other.
//!
//! The log (the outbox) tells a schedule by its [`ScheduleSettings`]; the `definition` column
//! holds the [`Definition`] as the API took it. For the column to be rebuildable from the log
//! the two must say the same, so a definition is stored in its canonical form
//! ([`Definition::canonical`]): the name trimmed, a cron spec's zone named (UTC when the user
//! named none), times to the millisecond, the priority in its API spelling. That is what the
//! settings say, and [`Definition::from_settings`] reads it back unchanged.

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;
use taskflow_schemas::ScheduleSettings;

use super::definition::Definition;
use super::options::Overlap;
use super::spec::SpecInput;
use super::template::TaskTemplate;

impl Definition {
    /// The same schedule spelt the way its events spell it (the module's doc says how).
    pub fn canonical(mut self) -> Self {
        let trimmed = self.name.trim();
        if trimmed.len() != self.name.len() {
            self.name = trimmed.to_owned();
        }
        if self.spec.cron.is_some() && self.spec.timezone.is_none() {
            self.spec.timezone = Some("UTC".into());
        }
        let millis = |t: Option<DateTime<Utc>>| t.map(|t| t.trunc_subsecs(3));
        self.spec.at = millis(self.spec.at);
        self.start_at = millis(self.start_at);
        self.end_at = millis(self.end_at);
        if let Some(priority) = self.task.priority() {
            self.task.priority = priority.as_str().to_owned();
        }
        self
    }

    /// The definition an event's settings describe; why not, when they do not describe one
    /// this version can read (an overlap policy it does not know, a payload that is not JSON).
    pub fn from_settings(s: &ScheduleSettings) -> Result<Self, String> {
        let time = |millis: Option<i64>| -> Result<Option<DateTime<Utc>>, String> {
            millis
                .map(|m| {
                    DateTime::from_timestamp_millis(m)
                        .ok_or_else(|| format!("time {m} out of range"))
                })
                .transpose()
        };
        let overlap: Overlap = serde_json::from_value(Value::String(s.overlap.clone()))
            .map_err(|_| format!("unknown overlap policy {:?}", s.overlap))?;
        let payload: Value = serde_json::from_str(&s.payload_json)
            .map_err(|e| format!("payload_json is not JSON: {e}"))?;
        Ok(Definition {
            name: s.name.clone(),
            task: TaskTemplate {
                task_type: s.task_type.clone(),
                payload,
                priority: s.priority.as_str().to_owned(),
                max_attempts: s.max_attempts,
                timeout_ms: s.timeout_ms,
                labels: s.labels.clone(),
            },
            spec: SpecInput {
                cron: s.cron.clone(),
                timezone: s.timezone.clone(),
                every: s.every.clone(),
                at: time(s.at)?,
            },
            start_at: time(s.start_at)?,
            end_at: time(s.end_at)?,
            jitter: s.jitter.clone(),
            overlap,
            catchup_window: s.catchup_window.clone(),
            paused: s.paused,
            note: s.note.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};
    use serde_json::json;
    use uuid::Uuid;

    use crate::domain::definition::Definition;
    use crate::domain::lifecycle::Subject;

    fn definition(value: serde_json::Value) -> Definition {
        serde_json::from_value(value).expect("a definition")
    }

    /// What the log says of `d`, read back.
    fn through_the_log(d: &Definition) -> Definition {
        let subject = Subject {
            id: Uuid::now_v7(),
            definition: d,
            anchor: Utc::now(),
            created_at: Utc::now(),
        };
        Definition::from_settings(&subject.settings()).expect("readable settings")
    }

    #[test]
    fn a_canonical_definition_reads_back_from_its_settings_unchanged() {
        let at = Utc::now() + Duration::microseconds(1_234_567);
        let cases = [
            json!({"name": "  spaced  ", "task": {"type": "noop", "priority": "HIGH"},
                   "spec": {"cron": "*/5 * * * *"}}),
            json!({"name": "berlin", "task": {"type": "noop", "payload": {"a": [1, 2.5, "x"], "b": null},
                   "max_attempts": 5, "timeout_ms": 1000, "labels": {"team": "core"}},
                   "spec": {"cron": "0 9 * * 1-5", "timezone": "Europe/Berlin"},
                   "jitter": "PT5S", "overlap": "buffer_all", "catchup_window": "PT10M",
                   "paused": true, "note": "holidays"}),
            json!({"name": "every", "task": {"type": "noop", "priority": "Low"},
                   "spec": {"every": "PT30S"}, "start_at": at, "end_at": at + Duration::days(1)}),
            json!({"name": "once", "task": {"type": "noop"}, "spec": {"at": at}}),
        ];
        for case in cases {
            let canonical = definition(case.clone()).canonical();
            assert_eq!(through_the_log(&canonical), canonical, "{case}");
            assert_eq!(
                canonical.clone().canonical(),
                canonical,
                "canonical twice: {case}"
            );
        }
    }

    #[test]
    fn the_canonical_form_changes_only_the_spelling() {
        let d = definition(
            json!({"name": " n ", "task": {"type": "noop", "priority": "Critical"},
            "spec": {"cron": "0 * * * *"}}),
        )
        .canonical();
        assert_eq!(d.name, "n");
        assert_eq!(d.spec.timezone.as_deref(), Some("UTC"));
        assert_eq!(d.task.priority, "critical");
        let every =
            definition(json!({"name": "e", "task": {"type": "noop"}, "spec": {"every": "PT1M"}}))
                .canonical();
        assert_eq!(every.spec.timezone, None, "only cron specs have a zone");
    }

    #[test]
    fn settings_this_version_cannot_read_say_why() {
        let d =
            definition(json!({"name": "x", "task": {"type": "noop"}, "spec": {"every": "PT1M"}}));
        let subject = Subject {
            id: Uuid::now_v7(),
            definition: &d,
            anchor: Utc::now(),
            created_at: Utc::now(),
        };
        let mut settings = subject.settings();
        settings.overlap = "take_turns".into();
        let error = Definition::from_settings(&settings).expect_err("unknown policy");
        assert!(error.contains("take_turns"), "{error}");
    }
}
