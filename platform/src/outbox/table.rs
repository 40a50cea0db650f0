//! The outbox table (declared by the platform's migration, applied before each service's) and a
//! row as the relay reads it: one declaration that the writers (`enqueue`), the relay's
//! statements (`store`) and `/metrics` all go through.

use diesel::prelude::*;
use taskflow_schemas::{Event, EventKind};

use super::error::OutboxError;
use crate::headers::TraceContext;

diesel::table! {
    outbox (id) {
        id -> Int8,
        event_id -> Uuid,
        event_type -> Text,
        body -> Jsonb,
        created_at -> Timestamptz,
        destination -> Nullable<Text>,
        reason -> Nullable<Text>,
        traceparent -> Nullable<Text>,
        tracestate -> Nullable<Text>,
        /// Kept in the log, never published (`append_internal`).
        internal -> Bool,
        /// The aggregate the event belongs to, for services that read their log per stream.
        stream_id -> Nullable<Uuid>,
        /// Its position in that stream, unique per stream when given.
        version -> Nullable<Int4>,
    }
}

diesel::table! {
    /// How far the relays have published: one row per pass, the highest id it covered.
    outbox_published (up_to) {
        up_to -> Int8,
        published_at -> Timestamptz,
    }
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = outbox, check_for_backend(diesel::pg::Pg))]
pub struct OutboxRow {
    pub id: i64,
    pub event_id: uuid::Uuid,
    pub event_type: String,
    pub body: serde_json::Value,
    pub destination: Option<String>,
    pub reason: Option<String>,
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
}

impl OutboxRow {
    pub fn to_event(&self) -> Result<Event, OutboxError> {
        let corrupt = |reason: String| OutboxError::Corrupt {
            id: self.id,
            reason,
        };
        let kind = EventKind::from_name(&self.event_type)
            .ok_or_else(|| corrupt(format!("unknown event type {}", self.event_type)))?;
        Event::from_json(kind, self.body.clone()).map_err(|e| corrupt(e.to_string()))
    }

    pub(super) fn trace(&self) -> TraceContext {
        TraceContext {
            traceparent: self.traceparent.clone(),
            tracestate: self.tracestate.clone(),
        }
    }
}
