//! Changes of a schedule's settings: a patch of its definition, pause and resume. Each locks
//! the schedule's row, changes it and stores it in one transaction.

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{MAX_INSTANTS, ServiceError, Services, model_of, record, state_row};
use crate::domain::definition::{Definition, note_problem};
use crate::domain::firing::Step;
use crate::domain::options::occurrences as instants;
use crate::store::{self, Conn, ScheduleRow};

/// A change of a schedule's settings.
enum Change {
    Patch(Map<String, Value>),
    Pause(Option<String>),
    Resume,
}

/// Merges `fields` into the definition (a field set to null is reset), checks the result like
/// a new schedule and plans again from now.
pub async fn patch(
    services: &Services,
    tenant_id: Uuid,
    id: Uuid,
    fields: Map<String, Value>,
) -> Result<ScheduleRow, ServiceError> {
    change(services, tenant_id, id, Change::Patch(fields)).await
}

/// Stops firing; `note` says why.
pub async fn pause(
    services: &Services,
    tenant_id: Uuid,
    id: Uuid,
    note: Option<String>,
) -> Result<ScheduleRow, ServiceError> {
    if let Some(message) = note.as_deref().and_then(note_problem) {
        return Err(ServiceError::invalid("/note", message));
    }
    change(services, tenant_id, id, Change::Pause(note)).await
}

/// Fires again from now on; the instants that passed while paused are recorded as skipped
/// (`paused`), up to [`MAX_INSTANTS`] of them. Resuming a running schedule changes nothing.
pub async fn resume(
    services: &Services,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<ScheduleRow, ServiceError> {
    change(services, tenant_id, id, Change::Resume).await
}

/// Applies `change` to the locked schedule in one transaction.
async fn change(
    services: &Services,
    tenant_id: Uuid,
    id: Uuid,
    change: Change,
) -> Result<ScheduleRow, ServiceError> {
    let now = services.clock.now();
    let max = services.max_per_second;
    let producer = services.producer.as_str();
    let mut conn = services.pool.get().await?;
    let row = conn
        .transaction::<_, ServiceError, _>(async move |conn| {
            let row = store::lock_schedule(conn, tenant_id, id)
                .await?
                .ok_or(ServiceError::NotFound(id))?;
            let row = match change {
                Change::Patch(fields) => patched(row, fields, now, max)?,
                Change::Pause(note) => paused(row, note, now),
                Change::Resume => resumed(conn, row, now, producer).await?,
            };
            store::update_schedule(conn, &row).await?;
            Ok(row)
        })
        .await?;
    services.outbox_ready.notify_one();
    Ok(row)
}

fn patched(
    row: ScheduleRow,
    fields: Map<String, Value>,
    now: DateTime<Utc>,
    max_per_second: f64,
) -> Result<ScheduleRow, ServiceError> {
    let mut merged = row.definition.clone();
    if let Some(merged_fields) = merged.as_object_mut() {
        for (key, value) in fields {
            merged_fields.insert(key, value);
        }
    }
    let definition: Definition =
        serde_json::from_value(merged).map_err(|e| ServiceError::Undecodable(e.to_string()))?;
    let model = definition
        .check(now, max_per_second)
        .map_err(ServiceError::Invalid)?;
    let anchor = definition.start_at.unwrap_or(row.anchor);
    let mut next = state_row(row.id, row.tenant_id, &definition, &model, anchor, now);
    next.created_at = row.created_at;
    Ok(next)
}

fn paused(mut row: ScheduleRow, note: Option<String>, now: DateTime<Utc>) -> ScheduleRow {
    row.paused = true;
    if let Some(fields) = row.definition.as_object_mut() {
        fields.insert("paused".into(), true.into());
        fields.insert("note".into(), note.into());
    }
    row.updated_at = now;
    row
}

async fn resumed(
    conn: &mut Conn,
    mut row: ScheduleRow,
    now: DateTime<Utc>,
    producer: &str,
) -> Result<ScheduleRow, ServiceError> {
    if !row.paused {
        return Ok(row);
    }
    let model = model_of(&row)?;
    if let Some(from) = row.next_nominal {
        let passed = instants(
            &model.spec,
            &model.window,
            row.anchor,
            from - chrono::Duration::milliseconds(1),
            now,
            MAX_INSTANTS,
        );
        let steps: Vec<Step> = passed
            .into_iter()
            .map(|nominal| Step::Skip {
                nominal,
                reason: "paused",
                detail: "the schedule was paused at this instant".into(),
            })
            .collect();
        record(conn, &row, &model, &steps, None, now, producer).await?;
    }
    let (next_nominal, next_fire_at) = model.first_from(row.id, row.anchor, now);
    row.paused = false;
    if let Some(fields) = row.definition.as_object_mut() {
        fields.insert("paused".into(), false.into());
    }
    row.next_nominal = next_nominal;
    row.next_fire_at = next_fire_at;
    row.waiting_for_task = None;
    row.updated_at = now;
    Ok(row)
}
