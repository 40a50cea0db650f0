//! The events a transaction announces, collected while it runs and appended to the outbox as
//! its last statement ([`Outgoing::append`]), after the lock on the schedule's row (taken by
//! every change, the firer and the triggers; a new schedule's row is its insert). A second
//! writer of the same schedule then draws its log ids after the first one commits, so per
//! schedule, log order is commit order (P7), and nothing waits for a row lock while holding the
//! outbox's append lock (`platform/src/outbox`).

use chrono::{DateTime, Utc};
use taskflow_platform::headers::{TraceContext, current_trace};
use taskflow_schemas::{Event, EventMeta};

use crate::domain::definition::Definition;
use crate::domain::lifecycle::{Lifecycle, Subject, announce};
use crate::store::{self, Conn, ScheduleRow, StoreError};

/// Events one transaction (or savepoint) announces, all written by one producer.
#[derive(Debug)]
pub struct Outgoing {
    /// `svc-scheduler/<version>@<instance>`, the `producer` of the events made here.
    producer: String,
    events: Vec<(Event, TraceContext)>,
}

impl Outgoing {
    pub fn new(producer: &str) -> Self {
        Self {
            producer: producer.to_owned(),
            events: Vec::new(),
        }
    }

    pub fn producer(&self) -> &str {
        &self.producer
    }

    pub fn push(&mut self, event: Event, trace: TraceContext) {
        self.events.push((event, trace));
    }

    /// Takes over `other`'s events, after this one's (a savepoint that committed).
    pub fn extend(&mut self, other: Outgoing) {
        self.events.extend(other.events);
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// `what` happened to the schedule `row`, whose settings `definition` holds (after the
    /// change; before it, for a delete): its lifecycle event and its new state record.
    pub fn announce(
        &mut self,
        what: Lifecycle,
        row: &ScheduleRow,
        definition: &Definition,
        at: DateTime<Utc>,
        correlation: &str,
    ) {
        let meta = || {
            EventMeta::new(
                at.timestamp_millis(),
                correlation,
                row.tenant_id,
                self.producer.as_str(),
            )
        };
        let subject = Subject {
            id: row.id,
            definition,
            anchor: row.anchor,
            created_at: row.created_at,
        };
        let trace = current_trace();
        for event in announce(what, &subject, meta(), meta()) {
            self.push(event, trace.clone());
        }
    }

    /// Appends everything: the last statement of the caller's transaction. Returns whether
    /// anything was appended (the relay is worth waking after the commit).
    pub async fn append(self, conn: &mut Conn) -> Result<bool, StoreError> {
        store::append_events(conn, &self.events).await?;
        Ok(!self.events.is_empty())
    }
}
