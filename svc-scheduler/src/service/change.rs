//! Changes of a schedule's settings: a patch of its definition, pause and resume. Each locks
//! the schedule's row, changes it, stores it and announces it (ScheduleChanged, SchedulePaused,
//! ScheduleResumed and the schedule's state) in one transaction; a change that changes nothing
//! announces nothing.

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::outgoing::Outgoing;
use super::{MAX_INSTANTS, ServiceError, Services, model_of, readable, record, state_row};
use crate::domain::definition::{Definition, note_problem};
use crate::domain::firing::Step;
use crate::domain::lifecycle::Lifecycle;
use crate::domain::occurrence::Origin;
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
    correlation: &str,
) -> Result<ScheduleRow, ServiceError> {
    change(services, tenant_id, id, Change::Patch(fields), correlation).await
}

/// Stops firing; `note` says why.
pub async fn pause(
    services: &Services,
    tenant_id: Uuid,
    id: Uuid,
    note: Option<String>,
    correlation: &str,
) -> Result<ScheduleRow, ServiceError> {
    if let Some(message) = note.as_deref().and_then(note_problem) {
        return Err(ServiceError::invalid("/note", message));
    }
    change(services, tenant_id, id, Change::Pause(note), correlation).await
}

/// Fires again from now on; the instants that passed while paused are recorded as skipped
/// (`paused`), up to [`MAX_INSTANTS`] of them. Resuming a running schedule changes nothing.
pub async fn resume(
    services: &Services,
    tenant_id: Uuid,
    id: Uuid,
    correlation: &str,
) -> Result<ScheduleRow, ServiceError> {
    change(services, tenant_id, id, Change::Resume, correlation).await
}

/// Applies `change` to the locked schedule in one transaction.
async fn change(
    services: &Services,
    tenant_id: Uuid,
    id: Uuid,
    change: Change,
    correlation: &str,
) -> Result<ScheduleRow, ServiceError> {
    let now = services.now();
    let max = services.max_per_second;
    let mut out = Outgoing::new(&services.producer);
    let mut conn = services.pool.get().await?;
    let (row, announced) = conn
        .transaction::<_, ServiceError, _>(async move |conn| {
            let found = store::lock_schedule(conn, tenant_id, id)
                .await?
                .ok_or(ServiceError::NotFound(id))?;
            let (row, what) = match change {
                Change::Patch(fields) => {
                    let row = patched(found.clone(), fields, now, max)?;
                    let what = news(&found, &row, Lifecycle::of_patch);
                    (row, what)
                }
                Change::Pause(note) => {
                    let row = paused(found.clone(), note, now);
                    let what = news(&found, &row, Lifecycle::of_pause);
                    (row, what)
                }
                Change::Resume => {
                    let was_paused = found.paused;
                    let (row, skipped) = resumed(conn, found.clone(), now, &mut out).await?;
                    (row, Some(Lifecycle::of_resume(was_paused, skipped)))
                }
            };
            // A change that changes nothing leaves the row as it is: every change of the row
            // is in the log, which the row is rebuilt from (`domain::refold`).
            if what == Some(None) {
                return Ok((found, false));
            }
            store::update_schedule(conn, &row).await?;
            if let Some(Some(what)) = what
                && let Some(definition) = readable(&row)
            {
                out.announce(what, &row, &definition, now, correlation);
            }
            let announced = out.append(conn).await?;
            Ok((row, announced))
        })
        .await?;
    if announced {
        services.outbox_ready.notify_one();
    }
    Ok(row)
}

/// What a patch or a pause announces, as `decide` reads the definitions before (in its
/// canonical form: it may have been stored before definitions were) and after; `None` when
/// either cannot be read, so the change is made unannounced (pausing a schedule this version
/// cannot read must stay possible).
fn news(
    before: &ScheduleRow,
    after: &ScheduleRow,
    decide: fn(&Definition, &Definition) -> Option<Lifecycle>,
) -> Option<Option<Lifecycle>> {
    readable(before)
        .zip(readable(after))
        .map(|(before, after)| decide(&before.canonical(), &after))
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
    let definition = serde_json::from_value::<Definition>(merged)
        .map_err(|e| ServiceError::Undecodable(e.to_string()))?
        .canonical();
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

/// The schedule running again from `now`, and how many instants passed while it was paused
/// (their skips are in `out`).
async fn resumed(
    conn: &mut Conn,
    mut row: ScheduleRow,
    now: DateTime<Utc>,
    out: &mut Outgoing,
) -> Result<(ScheduleRow, usize), ServiceError> {
    if !row.paused {
        return Ok((row, 0));
    }
    let model = model_of(&row)?;
    let mut skipped = 0;
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
        skipped = record(conn, &row, &model, &steps, Origin::Timetable, now, out).await?;
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
    Ok((row, skipped))
}
