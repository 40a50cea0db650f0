use apache_avro::Schema;

use super::*;
use crate::samples::one_of_each as samples;

#[test]
fn the_parsed_schema_cache_has_a_cell_per_kind() {
    assert_eq!(PARSED.len(), EventKind::ALL.len());
    for kind in EventKind::ALL {
        let schema = kind.parsed_schema().expect("parses");
        assert_eq!(
            schema.name().map(|n| n.fullname(None)),
            Some(kind.full_name())
        );
    }
}

#[test]
fn every_kind_has_a_sample() {
    let kinds: Vec<_> = samples().iter().map(Event::kind).collect();
    assert_eq!(kinds, EventKind::ALL);
}

#[test]
fn every_schema_parses_and_is_named_after_its_kind() {
    for kind in EventKind::ALL {
        let schema = Schema::parse_str(kind.schema()).expect("valid avsc");
        let Schema::Record(record) = schema else {
            panic!("{kind:?} is not a record")
        };
        assert_eq!(record.name.fullname(None), kind.full_name());
    }
}

/// The Rust types and the `.avsc` files must describe the same records: write each sample with
/// its schema in Avro binary, read it back, and compare.
#[test]
fn every_event_round_trips_through_avro_binary() {
    for event in samples() {
        let schema = Schema::parse_str(event.kind().schema()).expect("valid avsc");
        let resolved = event.to_avro().expect("value fits its schema");
        let bytes = apache_avro::writer::datum::GenericDatumWriter::builder(&schema)
            .build()
            .and_then(|w| w.write_value_to_vec(resolved))
            .expect("writable");
        let read = apache_avro::reader::datum::GenericDatumReader::builder(&schema)
            .build()
            .and_then(|r| r.read_value(&mut bytes.as_slice()))
            .expect("readable");
        let back = Event::from_avro(&event.kind().full_name(), read).expect("decodable");
        assert_eq!(back, event);
    }
}

#[test]
fn unknown_record_names_are_refused() {
    let err = Event::from_avro("com.example.Other", apache_avro::types::Value::Null)
        .expect_err("not ours");
    assert!(matches!(err, DecodeEventError::UnknownRecord(name) if name == "com.example.Other"));
}

#[test]
fn only_endings_are_terminal() {
    let terminal: Vec<_> = samples().iter().map(Event::is_terminal).collect();
    assert_eq!(
        terminal,
        [
            false, false, false, false, true, false, true, false, false, false, false, false,
            false, false, false, false, false, false, false
        ]
    );
}

#[test]
fn every_event_round_trips_through_json() {
    for event in samples() {
        let body = event.to_json().expect("serializable");
        assert_eq!(body["event_id"], event.meta().event_id.to_string());
        let back = Event::from_json(event.kind(), body).expect("deserializable");
        assert_eq!(back, event);
    }
}

#[test]
fn key_hashes_travel_as_64_lower_case_hex_digits() {
    assert_eq!(
        crate::ApiKeyIssued::hash_hex(&[0x00, 0x0f, 0xa5, 0xff]),
        "000fa5ff"
    );
    let mut issued = match samples().remove(8) {
        Event::ApiKeyIssued(e) => e,
        other => panic!("sample 8 is {other:?}"),
    };
    issued.key_sha256 = crate::ApiKeyIssued::hash_hex(&[15; 32]);
    assert_eq!(issued.key_hash(), Some(vec![15; 32]));
    for bad in ["0f".to_owned(), "zz".repeat(32), "é".repeat(32)] {
        issued.key_sha256 = bad;
        assert_eq!(issued.key_hash(), None, "{}", issued.key_sha256);
    }
}

/// Every kind, named: an event about one task answers its `task_id` field (a trigger its task,
/// not its schedule); key and schedule events answer none.
#[test]
fn task_id_names_the_task_each_event_is_about() {
    for event in &samples() {
        let json = event.to_json().expect("json");
        let task = json["task_id"]
            .as_str()
            .and_then(|t| Uuid::parse_str(t).ok());
        let expected = match event.kind() {
            EventKind::TaskCreated
            | EventKind::TaskCancelRequested
            | EventKind::TaskStarted
            | EventKind::TaskProgressUpdated
            | EventKind::TaskCompleted
            | EventKind::TaskFailed
            | EventKind::TaskCancelled
            | EventKind::ScheduledTaskTriggered
            | EventKind::ScheduledTaskRefused
            | EventKind::TaskState => Some(task.expect("a task_id field")),
            EventKind::ApiKeyIssued
            | EventKind::ApiKeyRevoked
            | EventKind::ScheduleOccurrenceSkipped
            | EventKind::ScheduleCreated
            | EventKind::ScheduleChanged
            | EventKind::SchedulePaused
            | EventKind::ScheduleResumed
            | EventKind::ScheduleDeleted
            | EventKind::ScheduleState => None,
        };
        assert_eq!(event.task_id(), expected, "{:?}", event.kind());
        assert_eq!(event.task_id(), task, "{:?}", event.kind());
        if event.kind().is_task_lifecycle() {
            assert_eq!(event.task_id(), Some(event.key()), "{:?}", event.kind());
        }
    }
    let lifecycle: Vec<EventKind> = EventKind::ALL
        .iter()
        .copied()
        .filter(|k| k.is_task_lifecycle())
        .collect();
    assert_eq!(lifecycle, &EventKind::ALL[..7]);
}

/// A schedule's events travel keyed by their schedule: its lifecycle on one stream, its state on
/// the compacted one, and both apart from the triggers svc-tasks consumes.
#[test]
fn schedule_events_are_keyed_by_their_schedule_on_their_own_streams() {
    use crate::Stream;
    let events = samples();
    let schedule: Vec<&Event> = events
        .iter()
        .filter(|e| e.kind().is_schedule_lifecycle() || e.kind() == EventKind::ScheduleState)
        .collect();
    assert_eq!(schedule.len(), 6);
    for event in schedule {
        let json = event.to_json().expect("json");
        assert_eq!(
            json["schedule_id"],
            event.key().to_string(),
            "{:?}",
            event.kind()
        );
        let stream = event.kind().stream();
        if event.kind().is_schedule_lifecycle() {
            assert_eq!(stream, Stream::ScheduleLifecycle);
            assert!(!stream.is_compacted());
        } else {
            assert_eq!(stream, Stream::ScheduleStates);
            assert!(stream.is_compacted());
        }
    }
}

/// The settings are flattened into the record: the JSON the outbox keeps has them at the top,
/// as the `.avsc` has them.
#[test]
fn schedule_settings_are_top_level_fields() {
    let created = samples()
        .into_iter()
        .find(|e| e.kind() == EventKind::ScheduleCreated)
        .expect("a sample");
    let json = created.to_json().expect("json");
    assert_eq!(json["name"], "nightly report");
    assert_eq!(json["timezone"], "Europe/Berlin");
    assert_eq!(json["priority"], "HIGH");
    assert_eq!(json["labels"]["team"], "core");
    let schema: serde_json::Value =
        serde_json::from_str(EventKind::ScheduleCreated.schema()).expect("json");
    let mut fields: Vec<&str> = schema["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    let mut keys: Vec<&str> = json
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    keys.sort_unstable();
    assert_eq!(keys, fields);
}
