//! A schedule's trigger (svc-scheduler's `ScheduledTaskTriggered`) as a task: checked by the
//! same rules as a submission, recorded as a TaskCreated that names its schedule and its cause.

use serde_json::Value;
use taskflow_schemas::{EventMeta, Priority, ScheduledTaskTriggered, TaskCreated};

use crate::domain::catalog::{PayloadProblem, TaskCatalog};
use crate::domain::submission::{self, Policy, Submission, SubmissionRefused, ValidSubmission};

/// Checks the trigger's task as a submission of the same fields would be checked: the type
/// must be in the catalogue, the payload match its schema, the settings lie within `policy`
/// and the priority be one the tenant may use.
pub fn validate(
    trigger: &ScheduledTaskTriggered,
    catalog: &TaskCatalog,
    policy: &Policy,
    allowed_priorities: Option<&[Priority]>,
) -> Result<ValidSubmission, SubmissionRefused> {
    let payload: Value = serde_json::from_str(&trigger.payload_json).map_err(|e| {
        SubmissionRefused::Invalid(vec![PayloadProblem {
            pointer: "/payload_json".into(),
            message: format!("not JSON: {e}"),
        }])
    })?;
    let submission = Submission {
        task_type: trigger.task_type.clone(),
        payload,
        priority: Some(submission::priority_name(trigger.priority).to_owned()),
        max_attempts: Some(trigger.max_attempts),
        timeout_ms: Some(trigger.timeout_ms),
        labels: trigger.labels.clone(),
        run_at: None,
        delay_ms: None,
    };
    // Nothing in a trigger is relative to "now": its own time serves.
    let now = crate::domain::task::millis_to_time(trigger.meta.occurred_at);
    submission::validate(submission, catalog, policy, allowed_priorities, now)
}

/// The TaskCreated of the trigger's task: its id is the trigger's, it names the schedule, and
/// `meta` (svc-tasks' own) is marked as caused by the trigger, in the trigger's correlation.
pub fn task_created(
    trigger: &ScheduledTaskTriggered,
    valid: &ValidSubmission,
    meta: EventMeta,
) -> TaskCreated {
    let meta = meta.caused_by(&trigger.meta);
    TaskCreated {
        schedule_id: Some(trigger.schedule_id.to_string()),
        run_at: None,
        ..submission::task_created(valid, meta, trigger.task_id, None)
    }
}

/// Why a trigger was refused, in one line with every problem (for the log and the dead letter).
pub fn describe(refused: &SubmissionRefused) -> String {
    match refused {
        SubmissionRefused::Invalid(problems) => {
            let each: Vec<String> = problems
                .iter()
                .map(|p| format!("{}: {}", p.pointer, p.message))
                .collect();
            format!("invalid task: {}", each.join("; "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use taskflow_schemas::Event;
    use taskflow_schemas::samples::sample_meta;
    use uuid::Uuid;

    use super::*;
    use crate::domain::{TaskStatus, apply, fold};

    fn trigger(task_type: &str, payload_json: &str) -> ScheduledTaskTriggered {
        ScheduledTaskTriggered {
            meta: sample_meta(),
            schedule_id: Uuid::new_v4(),
            fire_time: 1_790_000_060_000,
            task_id: Uuid::new_v4(),
            task_type: task_type.into(),
            priority: Priority::High,
            payload_json: payload_json.into(),
            max_attempts: 2,
            timeout_ms: 5_000,
            labels: BTreeMap::from([("team".to_owned(), "core".to_owned())]),
            cancel_task_id: None,
        }
    }

    fn catalog() -> TaskCatalog {
        TaskCatalog::load().expect("catalog")
    }

    #[test]
    fn a_valid_trigger_becomes_a_task_created_by_it_for_its_schedule() {
        let t = trigger("sleep", r#"{"duration_ms": 10}"#);
        let valid = validate(&t, &catalog(), &Policy::default(), None).expect("valid");
        let meta = EventMeta::new(1_790_000_061_000, "ignored", t.meta.tenant_id, "svc-tasks");
        let created = task_created(&t, &valid, meta);
        assert_eq!(created.task_id, t.task_id);
        assert_eq!(created.schedule_id, Some(t.schedule_id.to_string()));
        assert_eq!(created.meta.causation_id, Some(t.meta.event_id.to_string()));
        assert_eq!(created.meta.correlation_id, t.meta.correlation_id);
        assert_ne!(created.meta.event_id, t.meta.event_id);
        assert_eq!(created.priority, Priority::High);
        assert_eq!(created.max_attempts, 2);
        assert_eq!(created.labels, t.labels);

        // The log holds the trigger, then the TaskCreated: the fold shows both.
        let task = fold([&Event::from(t.clone()), &Event::from(created.clone())])
            .expect("folds")
            .expect("a task");
        assert_eq!(task.id, t.task_id);
        assert_eq!(task.status, TaskStatus::Pending);
        assert_eq!(task.version, 1, "the trigger is not a step of the task");
        assert_eq!(task.schedule_id, Some(t.schedule_id));
        assert_eq!(
            task.fire_time.map(|f| f.timestamp_millis()),
            Some(t.fire_time)
        );
        // Without the trigger (a TaskCreated alone) the schedule still shows, the instant not.
        let alone = apply(None, &created.into()).expect("applies");
        assert_eq!(alone.schedule_id, Some(t.schedule_id));
        assert_eq!(alone.fire_time, None);
    }

    #[test]
    fn a_trigger_of_another_task_does_not_fold_into_this_one() {
        let t = trigger("noop", "{}");
        let valid = validate(&t, &catalog(), &Policy::default(), None).expect("valid");
        let meta = EventMeta::new(0, "c", t.meta.tenant_id, "svc-tasks");
        let created = task_created(&t, &valid, meta);
        let other = ScheduledTaskTriggered {
            task_id: Uuid::new_v4(),
            ..t
        };
        assert!(fold([&Event::from(other), &Event::from(created)]).is_err());
    }

    #[test]
    fn triggers_are_refused_by_the_rules_of_a_submission() {
        let refused = |t: ScheduledTaskTriggered, allowed: Option<&[Priority]>| {
            describe(&validate(&t, &catalog(), &Policy::default(), allowed).expect_err("refused"))
        };
        assert!(refused(trigger("teleport", "{}"), None).contains("teleport"));
        let reason = refused(trigger("sleep", r#"{"duration_ms": "long"}"#), None);
        assert!(reason.contains("/payload/duration_ms"), "{reason}");
        let reason = refused(trigger("noop", "{not json"), None);
        assert!(reason.contains("/payload_json: not JSON"), "{reason}");
        let reason = refused(trigger("noop", "{}"), Some(&[Priority::Low]));
        assert!(reason.contains("not allowed"), "{reason}");
        let mut t = trigger("noop", "{}");
        t.max_attempts = 0;
        assert!(refused(t, None).contains("/max_attempts"));
    }
}
