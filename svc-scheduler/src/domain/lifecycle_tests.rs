use chrono::TimeZone;
use serde_json::json;
use taskflow_schemas::EventKind;

use super::*;

fn definition(value: Value) -> Definition {
    serde_json::from_value(value).expect("a definition")
}

fn nightly() -> Definition {
    definition(json!({
        "name": "  nightly ",
        "task": {"type": "noop", "priority": "high", "labels": {"team": "core"}},
        "spec": {"cron": "0 2 * * *"},
        "overlap": "buffer_one",
    }))
}

fn meta(at: i64) -> EventMeta {
    EventMeta::new(at, "corr-1", Uuid::nil(), "svc-scheduler/test")
}

fn t(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_790_000_000 + seconds, 0).unwrap()
}

#[test]
fn settings_spell_the_definition_as_the_contract_does() {
    let d = nightly();
    let subject = Subject {
        id: Uuid::nil(),
        definition: &d,
        anchor: t(0),
        created_at: t(0),
    };
    let s = subject.settings();
    assert_eq!(s.name, "nightly", "trimmed, like the stored name");
    assert_eq!(s.cron.as_deref(), Some("0 2 * * *"));
    assert_eq!(
        s.timezone.as_deref(),
        Some("UTC"),
        "the zone it is matched in"
    );
    assert_eq!((s.every, s.at), (None, None));
    assert_eq!(s.overlap, "buffer_one");
    assert_eq!(s.priority, Priority::High);
    assert_eq!(s.payload_json, "{}");
    assert_eq!((s.max_attempts, s.timeout_ms), (3, 30_000));
    assert_eq!(s.labels.get("team").map(String::as_str), Some("core"));
    assert_eq!(s.anchor, t(0).timestamp_millis());

    let every =
        definition(json!({"name": "e", "task": {"type": "noop"}, "spec": {"every": "PT5M"}}));
    let s = Subject {
        definition: &every,
        ..subject
    }
    .settings();
    assert_eq!((s.cron, s.timezone), (None, None), "a zone only for cron");
    assert_eq!(s.every.as_deref(), Some("PT5M"));
}

#[test]
fn a_patch_names_what_it_changed_and_is_no_news_when_it_changed_nothing() {
    let before = nightly();
    assert_eq!(Lifecycle::of_patch(&before, &before.clone()), None);
    let mut after = before.clone();
    after.jitter = Some("PT10S".into());
    after.task.timeout_ms = 1_000;
    assert_eq!(
        Lifecycle::of_patch(&before, &after),
        Some(Lifecycle::Changed(vec!["jitter".into(), "task".into()]))
    );
}

#[test]
fn pausing_is_news_unless_it_was_paused_with_that_note_already() {
    let running = nightly();
    let mut paused = running.clone();
    paused.paused = true;
    paused.note = Some("maintenance".into());
    assert_eq!(
        Lifecycle::of_pause(&running, &paused),
        Some(Lifecycle::Paused)
    );
    assert_eq!(Lifecycle::of_pause(&paused, &paused.clone()), None);
    let mut renoted = paused.clone();
    renoted.note = Some("still broken".into());
    assert_eq!(
        Lifecycle::of_pause(&paused, &renoted),
        Some(Lifecycle::Paused)
    );
    assert_eq!(Lifecycle::of_resume(false, 0), None, "it was running");
    assert_eq!(
        Lifecycle::of_resume(true, 4),
        Some(Lifecycle::Resumed {
            skipped_instants: 4
        })
    );
}

#[test]
fn each_change_announces_its_event_and_the_state_it_leaves() {
    let d = nightly();
    let subject = Subject {
        id: Uuid::from_u128(7),
        definition: &d,
        anchor: t(0),
        created_at: t(-60),
    };
    let cases = [
        (Lifecycle::Created, EventKind::ScheduleCreated),
        (
            Lifecycle::Changed(vec!["name".into()]),
            EventKind::ScheduleChanged,
        ),
        (Lifecycle::Paused, EventKind::SchedulePaused),
        (
            Lifecycle::Resumed {
                skipped_instants: 2,
            },
            EventKind::ScheduleResumed,
        ),
        (Lifecycle::Deleted, EventKind::ScheduleDeleted),
    ];
    for (what, kind) in cases {
        let deleted = what == Lifecycle::Deleted;
        let [event, state] = announce(what, &subject, meta(5_000), meta(5_000));
        assert_eq!(event.kind(), kind);
        assert_eq!(event.key(), subject.id);
        let Event::ScheduleState(state) = state else {
            panic!("{state:?} is not a state")
        };
        assert_eq!(state.schedule_id, subject.id);
        assert_eq!(state.deleted, deleted, "{kind:?}");
        assert_eq!(state.settings, subject.settings());
        assert_eq!(
            (state.created_at, state.updated_at),
            (t(-60).timestamp_millis(), 5_000)
        );
        assert_eq!(
            state.meta.causation_id,
            Some(event.meta().event_id.to_string()),
            "the state is caused by the event"
        );
    }
}
