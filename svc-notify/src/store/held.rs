//! Lifecycle events held until their task's creation is known (see the migration
//! `held_events`).

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use taskflow_schemas::{Event, EventKind};
use uuid::Uuid;

use super::schema::held_events;
use super::{Conn, StoreError};

#[derive(Insertable)]
#[diesel(table_name = held_events)]
struct NewHeld {
    task_id: Uuid,
    event_type: String,
    body: serde_json::Value,
}

/// Holds `events` (in the order given) until their task's creation arrives.
pub async fn hold(conn: &mut Conn, events: &[&Event]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let rows = events
        .iter()
        .map(|e| {
            Ok(NewHeld {
                task_id: e.key(),
                event_type: e.kind().name().to_owned(),
                body: e.to_json().map_err(|err| StoreError::Corrupt {
                    what: "held event",
                    reason: err.to_string(),
                })?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    diesel::insert_into(held_events::table)
        .values(&rows)
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes and returns the events held for these tasks, per task in the order they were held.
pub async fn take_held(
    conn: &mut Conn,
    task_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Event>>, StoreError> {
    let mut held: HashMap<Uuid, Vec<Event>> = HashMap::new();
    if task_ids.is_empty() {
        return Ok(held);
    }
    let rows: Vec<(i64, Uuid, String, serde_json::Value)> =
        diesel::delete(held_events::table.filter(held_events::task_id.eq_any(task_ids)))
            .returning((
                held_events::held_seq,
                held_events::task_id,
                held_events::event_type,
                held_events::body,
            ))
            .get_results(conn)
            .await?;
    let mut rows = rows;
    rows.sort_unstable_by_key(|(seq, ..)| *seq);
    for (_, task_id, event_type, body) in rows {
        let corrupt = |reason: String| StoreError::Corrupt {
            what: "held event",
            reason,
        };
        let kind = EventKind::from_name(&event_type)
            .ok_or_else(|| corrupt(format!("unknown event type {event_type}")))?;
        let event = Event::from_json(kind, body).map_err(|e| corrupt(e.to_string()))?;
        held.entry(task_id).or_default().push(event);
    }
    Ok(held)
}

/// Which of `event_ids` were neither told (a notification carries the id) nor held: the task
/// events still to apply. The history doubles as the inbox of task events.
pub async fn not_yet_told(
    conn: &mut Conn,
    event_ids: &[Uuid],
) -> Result<std::collections::HashSet<Uuid>, StoreError> {
    use super::schema::notifications;
    if event_ids.is_empty() {
        return Ok(Default::default());
    }
    let told: Vec<Uuid> = notifications::table
        .filter(notifications::event_id.eq_any(event_ids))
        .select(notifications::event_id)
        .load(conn)
        .await?;
    let texts: Vec<String> = event_ids.iter().map(Uuid::to_string).collect();
    // Once per consumed batch, with SQL text diesel would not cache: constant, so prepared.
    let held: Vec<Option<String>> = taskflow_platform::db::prepared(
        held_events::table
            .filter(diesel::dsl::sql::<diesel::sql_types::Text>("body->>'event_id'").eq_any(&texts))
            .select(diesel::dsl::sql::<
                diesel::sql_types::Nullable<diesel::sql_types::Text>,
            >("body->>'event_id'")),
    )
    .load(conn)
    .await?;
    let mut known: std::collections::HashSet<Uuid> = told.into_iter().collect();
    known.extend(
        held.into_iter()
            .flatten()
            .filter_map(|id| id.parse::<Uuid>().ok()),
    );
    Ok(event_ids
        .iter()
        .copied()
        .filter(|id| !known.contains(id))
        .collect())
}
