//! The task event log: the truth every projection is folded from.

use super::prelude::*;

/// Appends many events, each at its (stream, version), in one statement; events already
/// recorded (by id) are skipped.
pub async fn append_events(
    conn: &mut Conn,
    events: &[(Uuid, i32, &Event)],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let mut rows = Vec::with_capacity(events.len());
    for (stream_id, version, event) in events {
        let meta = event.meta();
        let body = event.to_json().map_err(|e| StoreError::Corrupt {
            what: "event",
            reason: e.to_string(),
        })?;
        rows.push((
            task_events::stream_id.eq(*stream_id),
            task_events::version.eq(*version),
            task_events::event_id.eq(meta.event_id),
            task_events::event_type.eq(event.kind().name()),
            task_events::tenant_id.eq(meta.tenant_id),
            task_events::correlation_id.eq(meta.correlation_id.clone()),
            task_events::occurred_at.eq(crate::domain::task::millis_to_time(meta.occurred_at)),
            task_events::body.eq(body),
        ));
    }
    diesel::insert_into(task_events::table)
        .values(rows)
        .on_conflict(task_events::event_id)
        .do_nothing()
        .execute(conn)
        .await?;
    Ok(())
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
