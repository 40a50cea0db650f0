//! Which events exist, their schema text, their stream, and the mapping to and from Avro values.

use std::sync::OnceLock;

use apache_avro::Schema;
use apache_avro::types::Value;
use uuid::Uuid;

use crate::events::{
    ApiKeyIssued, ApiKeyRevoked, ScheduleOccurrenceSkipped, ScheduledTaskRefused,
    ScheduledTaskTriggered, TaskCancelRequested, TaskCancelled, TaskCompleted, TaskCreated,
    TaskFailed, TaskProgressUpdated, TaskStarted, TaskState,
};
use crate::meta::EventMeta;
use crate::schedule_events::{
    ScheduleChanged, ScheduleCreated, ScheduleDeleted, SchedulePaused, ScheduleResumed,
    ScheduleState,
};
use crate::topics::Stream;

macro_rules! catalog {
    ($($kind:ident => $stream:ident),+ $(,)?) => {
        /// The type of an event, one per `.avsc` file.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventKind { $($kind),+ }

        impl EventKind {
            pub const ALL: &'static [EventKind] = &[$(EventKind::$kind),+];

            /// Record name without namespace, e.g. `TaskCreated`; also the `event_type` header.
            pub fn name(self) -> &'static str {
                match self { $(EventKind::$kind => stringify!($kind)),+ }
            }

            /// The `.avsc` text this type is written with.
            pub fn schema(self) -> &'static str {
                match self {
                    $(EventKind::$kind => include_str!(concat!("../avro/", stringify!($kind), ".avsc"))),+
                }
            }

            pub fn stream(self) -> Stream {
                match self { $(EventKind::$kind => Stream::$stream),+ }
            }
        }

        /// Any TaskFlow event.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Event { $($kind($kind)),+ }

        impl Event {
            pub fn kind(&self) -> EventKind {
                match self { $(Event::$kind(_) => EventKind::$kind),+ }
            }

            pub fn meta(&self) -> &EventMeta {
                match self { $(Event::$kind(e) => &e.meta),+ }
            }

            /// The record as an Avro value resolved against its schema (a `Value::Record`).
            pub fn to_avro(&self) -> Result<Value, apache_avro::Error> {
                let value = match self { $(Event::$kind(e) => apache_avro::to_value(e)),+ }?;
                value.resolve(self.kind().parsed_schema()?)
            }

            /// Reads a record written with the schema named `full_name`.
            pub fn from_avro(full_name: &str, value: Value) -> Result<Event, DecodeEventError> {
                let kind = EventKind::from_full_name(full_name)
                    .ok_or_else(|| DecodeEventError::UnknownRecord(full_name.to_owned()))?;
                let to_err = |source| DecodeEventError::Shape { kind, source: Box::new(source) };
                match kind {
                    $(EventKind::$kind => apache_avro::from_value(&value).map(Event::$kind).map_err(to_err)),+
                }
            }
        }

        impl Event {
            /// The record's fields as JSON (uuids as text, times as epoch millis): how services
            /// keep events in their own databases.
            pub fn to_json(&self) -> Result<serde_json::Value, serde_json::Error> {
                match self { $(Event::$kind(e) => serde_json::to_value(e)),+ }
            }

            pub fn from_json(kind: EventKind, body: serde_json::Value) -> Result<Event, serde_json::Error> {
                match kind { $(EventKind::$kind => serde_json::from_value(body).map(Event::$kind)),+ }
            }
        }

        $(impl From<$kind> for Event {
            fn from(e: $kind) -> Event { Event::$kind(e) }
        })+
    };
}

catalog! {
    TaskCreated => TaskRequests,
    TaskCancelRequested => TaskRequests,
    TaskStarted => TaskExecution,
    TaskProgressUpdated => TaskExecution,
    TaskCompleted => TaskExecution,
    TaskFailed => TaskExecution,
    TaskCancelled => TaskExecution,
    ScheduledTaskTriggered => ScheduleTriggers,
    ApiKeyIssued => TenantKeys,
    ApiKeyRevoked => TenantKeys,
    ScheduleOccurrenceSkipped => ScheduleTriggers,
    ScheduledTaskRefused => TaskRequests,
    TaskState => TaskStates,
    ScheduleCreated => ScheduleLifecycle,
    ScheduleChanged => ScheduleLifecycle,
    SchedulePaused => ScheduleLifecycle,
    ScheduleResumed => ScheduleLifecycle,
    ScheduleDeleted => ScheduleLifecycle,
    ScheduleState => ScheduleStates,
}

/// Parsed schemas, one cell per kind in `EventKind::ALL` order.
static PARSED: [OnceLock<Schema>; 19] = [const { OnceLock::new() }; 19];

impl EventKind {
    /// The schema, parsed once per process.
    pub fn parsed_schema(self) -> Result<&'static Schema, apache_avro::Error> {
        let index = EventKind::ALL
            .iter()
            .position(|k| *k == self)
            .unwrap_or_default();
        let cell = &PARSED[index];
        if let Some(schema) = cell.get() {
            return Ok(schema);
        }
        let schema = Schema::parse_str(self.schema())?;
        Ok(cell.get_or_init(|| schema))
    }

    /// `io.taskflow.events.TaskCreated`: the Avro full name, also the subject suffix under
    /// TopicRecordNameStrategy.
    pub fn full_name(self) -> String {
        format!("{}.{}", crate::NAMESPACE, self.name())
    }

    pub fn from_full_name(full_name: &str) -> Option<EventKind> {
        let name = full_name
            .strip_prefix(crate::NAMESPACE)?
            .strip_prefix('.')?;
        EventKind::from_name(name)
    }

    pub fn from_name(name: &str) -> Option<EventKind> {
        EventKind::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// The events of a task's own stream, from its creation to its end: the ones that change
    /// what the task is (a trigger, a refusal or a state record only tell about it).
    pub fn is_task_lifecycle(self) -> bool {
        matches!(
            self,
            EventKind::TaskCreated
                | EventKind::TaskCancelRequested
                | EventKind::TaskStarted
                | EventKind::TaskProgressUpdated
                | EventKind::TaskCompleted
                | EventKind::TaskFailed
                | EventKind::TaskCancelled
        )
    }

    /// The events of a schedule's own stream, from its creation to its deletion (its state
    /// record and its occurrences only tell about it).
    pub fn is_schedule_lifecycle(self) -> bool {
        matches!(
            self,
            EventKind::ScheduleCreated
                | EventKind::ScheduleChanged
                | EventKind::SchedulePaused
                | EventKind::ScheduleResumed
                | EventKind::ScheduleDeleted
        )
    }

    /// True for events after which nothing more happens to the task.
    pub fn is_terminal_kind(self) -> bool {
        matches!(self, EventKind::TaskCompleted | EventKind::TaskCancelled)
    }
}

impl Event {
    /// The Kafka record key: the task id (also of a refused trigger's task, which has no other
    /// event), the schedule id for scheduler events (occurrences, lifecycle, state), the key id for
    /// API key events, so that all events of one entity land on one partition in order.
    pub fn key(&self) -> Uuid {
        match self {
            Event::TaskCreated(e) => e.task_id,
            Event::TaskCancelRequested(e) => e.task_id,
            Event::TaskStarted(e) => e.task_id,
            Event::TaskProgressUpdated(e) => e.task_id,
            Event::TaskCompleted(e) => e.task_id,
            Event::TaskFailed(e) => e.task_id,
            Event::TaskCancelled(e) => e.task_id,
            Event::ScheduledTaskTriggered(e) => e.schedule_id,
            Event::ApiKeyIssued(e) => e.key_id,
            Event::ApiKeyRevoked(e) => e.key_id,
            Event::ScheduleOccurrenceSkipped(e) => e.schedule_id,
            Event::ScheduledTaskRefused(e) => e.task_id,
            Event::TaskState(e) => e.task_id,
            Event::ScheduleCreated(e) => e.schedule_id,
            Event::ScheduleChanged(e) => e.schedule_id,
            Event::SchedulePaused(e) => e.schedule_id,
            Event::ScheduleResumed(e) => e.schedule_id,
            Event::ScheduleDeleted(e) => e.schedule_id,
            Event::ScheduleState(e) => e.schedule_id,
        }
    }

    /// The task this event is about: the lifecycle events' task, the task a trigger asks for or
    /// was refused, the task a state record shows. `None` for events about no one task (API keys,
    /// a skipped schedule occurrence, a schedule's lifecycle and state). Unlike [`Event::key`], a trigger answers its task, not its
    /// schedule.
    pub fn task_id(&self) -> Option<Uuid> {
        match self {
            Event::TaskCreated(e) => Some(e.task_id),
            Event::TaskCancelRequested(e) => Some(e.task_id),
            Event::TaskStarted(e) => Some(e.task_id),
            Event::TaskProgressUpdated(e) => Some(e.task_id),
            Event::TaskCompleted(e) => Some(e.task_id),
            Event::TaskFailed(e) => Some(e.task_id),
            Event::TaskCancelled(e) => Some(e.task_id),
            Event::ScheduledTaskTriggered(e) => Some(e.task_id),
            Event::ScheduledTaskRefused(e) => Some(e.task_id),
            Event::TaskState(e) => Some(e.task_id),
            Event::ApiKeyIssued(_)
            | Event::ApiKeyRevoked(_)
            | Event::ScheduleOccurrenceSkipped(_)
            | Event::ScheduleCreated(_)
            | Event::ScheduleChanged(_)
            | Event::SchedulePaused(_)
            | Event::ScheduleResumed(_)
            | Event::ScheduleDeleted(_)
            | Event::ScheduleState(_) => None,
        }
    }

    /// True when this event ends its task (a final failure counts; a retried one does not).
    pub fn is_terminal(&self) -> bool {
        match self {
            Event::TaskFailed(e) => e.is_final,
            other => other.kind().is_terminal_kind(),
        }
    }
}

/// Why a record's Avro value could not become an [`Event`].
#[derive(Debug, thiserror::Error)]
pub enum DecodeEventError {
    #[error("record {0} is not a TaskFlow event")]
    UnknownRecord(String),
    #[error("record does not fit the {kind:?} type: {source}")]
    Shape {
        kind: EventKind,
        #[source]
        source: Box<apache_avro::Error>,
    },
}

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;
