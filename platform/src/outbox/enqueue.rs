//! What services call inside their own transactions: the event is committed with the change it
//! describes, or not at all. The trace context is stored with it so that the publish, done later
//! by the relay, stays in the trace of the request or record that caused it.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use taskflow_schemas::Event;

use super::error::OutboxError;
use super::table::outbox;
use crate::headers::{self, TraceContext};

/// Adds `event` to the outbox of the caller's transaction, with the trace context of the
/// current span (the request, consumed record or attempt that caused it).
pub async fn enqueue(conn: &mut AsyncPgConnection, event: &Event) -> Result<(), OutboxError> {
    let trace = headers::current_trace();
    diesel::insert_into(outbox::table)
        .values((
            outbox::event_id.eq(event.meta().event_id),
            outbox::event_type.eq(event.kind().name()),
            outbox::body.eq(event.to_json()?),
            outbox::traceparent.eq(trace.traceparent),
            outbox::tracestate.eq(trace.tracestate),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Adds many events to the outbox of the caller's transaction in one statement, each with the
/// trace context it belongs to. Row ids follow the slice's order.
pub async fn enqueue_all(
    conn: &mut AsyncPgConnection,
    events: &[(Event, TraceContext)],
) -> Result<(), OutboxError> {
    if events.is_empty() {
        return Ok(());
    }
    diesel::insert_into(outbox::table)
        .values(NewRow::all(events, false)?)
        .execute(conn)
        .await?;
    Ok(())
}

/// Appends events that stay in the service's log and are never published, in the caller's
/// transaction, in one statement: facts a projection is folded from that no other service reads
/// (svc-executor: the TaskCreated it queued; svc-tasks: the execution events of a task's
/// stream). They take positions like any row; relays step over them and are not woken by them.
/// An event whose id the log already holds is skipped, so a redelivered copy appends nothing.
pub async fn append_internal(
    conn: &mut AsyncPgConnection,
    events: &[(Event, TraceContext)],
) -> Result<usize, OutboxError> {
    if events.is_empty() {
        return Ok(0);
    }
    Ok(diesel::insert_into(outbox::table)
        .values(NewRow::all(events, true)?)
        .on_conflict(outbox::event_id)
        .do_nothing()
        .execute(conn)
        .await?)
}

/// A row as `enqueue_all` and `append_internal` write it.
#[derive(Insertable)]
#[diesel(table_name = outbox)]
struct NewRow<'a> {
    event_id: uuid::Uuid,
    event_type: &'a str,
    body: serde_json::Value,
    traceparent: Option<&'a str>,
    tracestate: Option<&'a str>,
    internal: bool,
}

impl<'a> NewRow<'a> {
    fn all(events: &'a [(Event, TraceContext)], internal: bool) -> Result<Vec<Self>, OutboxError> {
        events
            .iter()
            .map(|(event, trace)| {
                Ok(Self {
                    event_id: event.meta().event_id,
                    event_type: event.kind().name(),
                    body: event.to_json()?,
                    traceparent: trace.traceparent.as_deref(),
                    tracestate: trace.tracestate.as_deref(),
                    internal,
                })
            })
            .collect()
    }
}

/// Adds a dead letter to the outbox of the caller's transaction: `event` is parked on
/// `topic` with `reason` once the transaction commits.
pub async fn enqueue_dead_letter(
    conn: &mut AsyncPgConnection,
    event: &Event,
    topic: &str,
    reason: &str,
) -> Result<(), OutboxError> {
    let trace = headers::current_trace();
    diesel::insert_into(outbox::table)
        .values((
            // A fresh row id; the parked event keeps its own event_id inside the body.
            outbox::event_id.eq(uuid::Uuid::now_v7()),
            outbox::event_type.eq(event.kind().name()),
            outbox::body.eq(event.to_json()?),
            outbox::destination.eq(topic),
            outbox::reason.eq(reason),
            outbox::traceparent.eq(trace.traceparent),
            outbox::tracestate.eq(trace.tracestate),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
