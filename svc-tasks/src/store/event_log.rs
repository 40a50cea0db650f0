//! The task event log: the truth every projection is folded from.

use taskflow_platform::headers::TraceContext;
use taskflow_platform::outbox::outbox as task_log;

use super::prelude::*;

/// One event of a task's log: its stream position, and the trace it is published in when it is
/// announced (`None`: recorded only, an internal row of the log).
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub stream_id: Uuid,
    pub version: i32,
    pub event: Event,
    pub announce: Option<TraceContext>,
}

/// Appends task events to the log (the outbox, migration 2026-12-23-000001_log_is_the_outbox),
/// each at its (stream, version), in one statement; announced ones are published from there by
/// the relay. Events already recorded (by id) are skipped. Returns whether an announced event
/// was among them.
pub async fn append_log(conn: &mut Conn, entries: &[LogEntry]) -> Result<bool, StoreError> {
    if entries.is_empty() {
        return Ok(false);
    }
    let mut rows = Vec::with_capacity(entries.len());
    for entry in entries {
        let body = entry.event.to_json().map_err(|e| StoreError::Corrupt {
            what: "event",
            reason: e.to_string(),
        })?;
        let trace = entry.announce.clone().unwrap_or_default();
        rows.push((
            task_log::event_id.eq(entry.event.meta().event_id),
            task_log::event_type.eq(entry.event.kind().name()),
            task_log::body.eq(body),
            task_log::traceparent.eq(trace.traceparent),
            task_log::tracestate.eq(trace.tracestate),
            task_log::internal.eq(entry.announce.is_none()),
            task_log::stream_id.eq(Some(entry.stream_id)),
            task_log::version.eq(Some(entry.version)),
        ));
    }
    diesel::insert_into(task_log::table)
        .values(rows)
        .on_conflict(task_log::event_id)
        .do_nothing()
        .execute(conn)
        .await?;
    Ok(entries.iter().any(|e| e.announce.is_some()))
}

/// Which of `event_ids` the log does not hold yet (each once): the events still to apply. The
/// log doubles as the projector's inbox, saving a row per consumed event.
pub async fn not_in_log(
    conn: &mut Conn,
    event_ids: &[Uuid],
) -> Result<std::collections::HashSet<Uuid>, StoreError> {
    if event_ids.is_empty() {
        return Ok(Default::default());
    }
    let logged: std::collections::HashSet<Uuid> = task_events::table
        .filter(task_events::event_id.eq_any(event_ids))
        .select(task_events::event_id)
        .load::<Uuid>(conn)
        .await?
        .into_iter()
        .collect();
    Ok(event_ids
        .iter()
        .copied()
        .filter(|id| !logged.contains(id))
        .collect())
}

/// The task's events in order, as stored (for the history endpoint).
pub async fn task_history(conn: &mut Conn, task_id: Uuid) -> Result<Vec<StoredEvent>, StoreError> {
    Ok(task_events::table
        .filter(task_events::stream_id.eq(task_id))
        .order(task_events::version.asc())
        .select(StoredEvent::as_select())
        .load(conn)
        .await?)
}

/// The task's events in order, as domain events (for rebuilding the projection).
pub async fn stream_events(conn: &mut Conn, task_id: Uuid) -> Result<Vec<Event>, StoreError> {
    task_history(conn, task_id)
        .await?
        .into_iter()
        .map(StoredEvent::into_event)
        .collect()
}

/// Ids of the task streams up to `upto`, in creation order, `limit` at a time after `after`.
pub async fn stream_ids(
    conn: &mut Conn,
    after: Option<Uuid>,
    upto: Uuid,
    limit: i64,
) -> Result<Vec<Uuid>, StoreError> {
    let mut query = task_events::table
        .filter(task_events::version.eq(1))
        .filter(task_events::stream_id.le(upto))
        .select(task_events::stream_id)
        .order(task_events::stream_id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(task_events::stream_id.gt(after));
    }
    Ok(query.load(conn).await?)
}

/// The event types of a task's stream: the log's retention keeps them (the log is the record of
/// what was asked and what happened, and the projection is rebuilt from it); the other rows of
/// the outbox (keys, refusals, dead letters) go after the outbox retention.
pub const TASK_LOG_TYPES: &[&str] = &[
    "TaskCreated",
    "TaskCancelRequested",
    "ScheduledTaskTriggered",
    "TaskStarted",
    "TaskProgressUpdated",
    "TaskCompleted",
    "TaskFailed",
    "TaskCancelled",
];

/// The outbox's retention in svc-tasks: published rows past `cut_off`, except a task's log.
pub fn delete_published_outside_the_task_log(
    conn: &mut Conn,
    cut_off: DateTime<Utc>,
    limit: i64,
) -> taskflow_platform::maintenance::BoxFuture<'_, Result<usize, diesel::result::Error>> {
    taskflow_platform::outbox::delete_published_before_keeping(conn, cut_off, limit, TASK_LOG_TYPES)
}
