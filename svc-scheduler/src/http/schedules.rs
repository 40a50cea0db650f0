//! `/v1/schedules`: create, read, change, pause/resume, run now, backfill, and the occurrences.

use actix_web::error::JsonPayloadError;
use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use taskflow_platform::problem::Problem;
use uuid::Uuid;

use super::auth::Tenant;
use super::errors::{ApiError, bad_request, invalid, json_problem, not_found};
use super::views::{OccurrenceView, ScheduleView};
use super::{AppState, MAX_BODY_BYTES};
use crate::domain::options::occurrences as instants;
use crate::firer::record;
use crate::firing::{Step, task_id};
use crate::model::{Definition, ScheduleModel, note_problem};
use crate::store::{self, Conn, ScheduleRow, StoreError};

/// Most instants one backfill (or one resume's record of paused instants) writes.
const MAX_INSTANTS: usize = 1_000;

fn missing(id: Uuid) -> ApiError {
    not_found(format!("no schedule {id}"))
}

fn state_row(
    id: Uuid,
    tenant_id: Uuid,
    definition: &Definition,
    model: &ScheduleModel,
    anchor: DateTime<Utc>,
    now: DateTime<Utc>,
) -> ScheduleRow {
    let (next_nominal, next_fire_at) = model.first_from(id, anchor, now);
    ScheduleRow {
        id,
        tenant_id,
        name: definition.name.trim().to_owned(),
        definition: serde_json::to_value(definition).unwrap_or_default(),
        paused: definition.paused,
        anchor,
        next_nominal,
        next_fire_at,
        waiting_for_task: None,
        created_at: now,
        updated_at: now,
    }
}

/// The rules of a stored schedule. One it cannot read was stored by this service: a server
/// fault (500), never the caller's bad input.
fn model_of(row: &ScheduleRow) -> Result<ScheduleModel, ApiError> {
    ScheduleModel::from_row(row).map_err(|reason| {
        ApiError(Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            format!("stored schedule {} is unreadable: {reason}", row.id),
        ))
    })
}

fn view(row: &ScheduleRow) -> Value {
    serde_json::to_value(ScheduleView::from(row)).unwrap_or_default()
}

/// Create a schedule. Nothing is stored unless every rule holds.
#[utoipa::path(
    tag = "schedules",
    operation_id = "create_schedule",
    request_body = ref("#/components/schemas/NewSchedule"),
    responses(
        (status = 201, description = "Created", body = ref("#/components/schemas/Schedule"),
         headers(("Location" = String, description = "The schedule"))),
        (status = 409, description = "This tenant has a schedule of that name (names are compared trimmed)"),
        (status = 422, description = "Invalid schedule: `problems[]` lists each with a JSON pointer (bad cron, unknown zone, end before start, never fires, too frequent, a payload its type refuses, NUL in a string, unknown fields)"),
    ),
    security(("api_key" = []))
)]
#[post("/v1/schedules")]
pub async fn create(
    tenant: Tenant,
    state: web::Data<AppState>,
    body: web::Json<Definition>,
) -> Result<HttpResponse, ApiError> {
    let definition = body.into_inner();
    let now = state.clock.now();
    let model = definition
        .check(now, state.max_per_second)
        .map_err(invalid)?;
    let id = Uuid::now_v7();
    let row = state_row(
        id,
        tenant.0,
        &definition,
        &model,
        definition.anchor(now),
        now,
    );
    let mut conn = state.pool.get().await.map_err(StoreError::from)?;
    store::insert_schedule(&mut conn, &row).await?;
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, format!("/v1/schedules/{id}")))
        .json(view(&row)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `next_after` of the previous page.
    pub after: Option<Uuid>,
    /// Page size, default 100.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// The tenant's schedules, oldest first (ids are time-ordered).
#[utoipa::path(
    tag = "schedules",
    operation_id = "list_schedules",
    params(ListQuery),
    responses(
        (status = 200, description = "A page", body = ref("#/components/schemas/ScheduleList")),
        (status = 400, description = "Unknown or invalid query parameter"),
    ),
    security(("api_key" = []))
)]
#[get("/v1/schedules")]
pub async fn list(
    tenant: Tenant,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(bad_request(
            "invalid-query",
            "Invalid query parameter",
            format!("limit must be from 1 to 500, not {limit}"),
        ));
    }
    let mut conn = state.pool.get().await.map_err(StoreError::from)?;
    let rows = store::list_schedules(&mut conn, tenant.0, query.after, limit).await?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    Ok(HttpResponse::Ok().json(json!({
        "items": rows.iter().map(view).collect::<Vec<_>>(),
        "next_after": next,
    })))
}

/// One schedule, with its next instant.
#[utoipa::path(
    tag = "schedules",
    operation_id = "get_schedule",
    params(("id" = Uuid, Path, description = "The schedule (another tenant's is 404 like a missing one)")),
    responses(
        (status = 200, description = "The schedule", body = ref("#/components/schemas/Schedule")),
        (status = 404, description = "No such schedule"),
    ),
    security(("api_key" = []))
)]
#[get("/v1/schedules/{id}")]
pub async fn get(
    tenant: Tenant,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let mut conn = state.pool.get().await.map_err(StoreError::from)?;
    let row = store::get_schedule(&mut conn, tenant.0, id)
        .await?
        .ok_or_else(|| missing(id))?;
    Ok(HttpResponse::Ok().json(view(&row)))
}

/// A change of a schedule's settings.
enum Change {
    Patch(serde_json::Map<String, Value>),
    Pause(Option<String>),
    Resume,
}

/// Applies `change` to the locked schedule in one transaction and answers with the result.
async fn change(
    state: &web::Data<AppState>,
    tenant: Uuid,
    id: Uuid,
    change: Change,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let max = state.max_per_second;
    let producer = state.producer.clone();
    let mut conn = state.pool.get().await.map_err(StoreError::from)?;
    let row = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let row = store::lock_schedule(conn, tenant, id)
                .await?
                .ok_or_else(|| missing(id))?;
            let row = match change {
                Change::Patch(fields) => patched(row, fields, now, max)?,
                Change::Pause(note) => paused(row, note, now),
                Change::Resume => resumed(conn, row, now, &producer).await?,
            };
            store::update_schedule(conn, &row).await?;
            Ok(row)
        })
        .await?;
    state.outbox_ready.notify_one();
    Ok(HttpResponse::Ok().json(view(&row)))
}

/// Merges the body's fields into the definition (a field set to null is reset), checks the
/// result like a new schedule and plans again from now.
#[utoipa::path(
    tag = "schedules",
    operation_id = "update_schedule",
    params(("id" = Uuid, Path, description = "The schedule (another tenant's is 404 like a missing one)")),
    request_body = ref("#/components/schemas/ScheduleChange"),
    responses(
        (status = 200, description = "The changed schedule", body = ref("#/components/schemas/Schedule")),
        (status = 404, description = "No such schedule"),
        (status = 409, description = "Another schedule of this tenant has that name"),
        (status = 422, description = "The merged schedule is invalid (`problems[]`), or a field is unknown"),
    ),
    security(("api_key" = []))
)]
#[patch("/v1/schedules/{id}")]
pub async fn patch(
    tenant: Tenant,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    body: web::Json<serde_json::Map<String, Value>>,
) -> Result<HttpResponse, ApiError> {
    change(
        &state,
        tenant.0,
        path.into_inner(),
        Change::Patch(body.into_inner()),
    )
    .await
}

fn patched(
    row: ScheduleRow,
    fields: serde_json::Map<String, Value>,
    now: DateTime<Utc>,
    max_per_second: f64,
) -> Result<ScheduleRow, ApiError> {
    let mut merged = row.definition.clone();
    if let Some(merged_fields) = merged.as_object_mut() {
        for (key, value) in fields {
            merged_fields.insert(key, value);
        }
    }
    let definition: Definition = serde_json::from_value(merged).map_err(|e| {
        ApiError(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-schedule",
            "Invalid schedule",
            e.to_string(),
        ))
    })?;
    let model = definition.check(now, max_per_second).map_err(invalid)?;
    let anchor = definition.start_at.unwrap_or(row.anchor);
    let mut next = state_row(row.id, row.tenant_id, &definition, &model, anchor, now);
    next.created_at = row.created_at;
    Ok(next)
}

/// Delete a schedule and its occurrences; it fires no more.
#[utoipa::path(
    tag = "schedules",
    operation_id = "delete_schedule",
    params(("id" = Uuid, Path, description = "The schedule (another tenant's is 404 like a missing one)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such schedule"),
    ),
    security(("api_key" = []))
)]
#[delete("/v1/schedules/{id}")]
pub async fn delete(
    tenant: Tenant,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let mut conn = state.pool.get().await.map_err(StoreError::from)?;
    if store::delete_schedule(&mut conn, tenant.0, id).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(missing(id))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseBody {
    pub note: Option<String>,
}

/// A body that may be left out: none (or only white space) and `null` are `None`; anything else
/// must be JSON (Content-Type) and a `T`.
async fn optional_json<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<Option<T>, ApiError> {
    let body = match payload.to_bytes_limited(MAX_BODY_BYTES).await {
        Ok(Ok(body)) => body,
        Ok(Err(e)) => {
            return Err(bad_request(
                "unreadable-body",
                "Body could not be read",
                e.to_string(),
            ));
        }
        Err(_) => {
            return Err(json_problem(&JsonPayloadError::Overflow {
                limit: MAX_BODY_BYTES,
            }));
        }
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let json = req
        .mime_type()
        .ok()
        .flatten()
        .is_some_and(|m| m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"));
    if !json {
        return Err(json_problem(&JsonPayloadError::ContentType));
    }
    serde_json::from_slice(&body).map_err(|e| json_problem(&JsonPayloadError::Deserialize(e)))
}

/// Stop firing; `note` says why (shown with the schedule). The body is optional.
#[utoipa::path(
    tag = "schedules",
    operation_id = "pause_schedule",
    params(("id" = Uuid, Path, description = "The schedule (another tenant's is 404 like a missing one)")),
    request_body(content = ref("#/components/schemas/Pause"), description = "Optional: no body, `null`, `{}` and `{\"note\": null}` all mean no note"),
    responses(
        (status = 200, description = "The paused schedule", body = ref("#/components/schemas/Schedule")),
        (status = 404, description = "No such schedule"),
        (status = 422, description = "Invalid note, or an unknown field"),
    ),
    security(("api_key" = []))
)]
#[post("/v1/schedules/{id}/pause")]
pub async fn pause(
    tenant: Tenant,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let note = optional_json::<PauseBody>(&req, body)
        .await?
        .and_then(|b| b.note);
    if let Some(message) = note.as_deref().and_then(note_problem) {
        return Err(invalid(vec![crate::template::TemplateProblem {
            pointer: "/note".into(),
            message,
        }]));
    }
    change(&state, tenant.0, path.into_inner(), Change::Pause(note)).await
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

/// Fires again from now on; the instants that passed while paused are recorded as skipped
/// (`paused`), up to 1,000 of them. Resuming a running schedule changes nothing.
#[utoipa::path(
    tag = "schedules",
    operation_id = "resume_schedule",
    params(("id" = Uuid, Path, description = "The schedule (another tenant's is 404 like a missing one)")),
    responses(
        (status = 200, description = "The running schedule", body = ref("#/components/schemas/Schedule")),
        (status = 404, description = "No such schedule"),
    ),
    security(("api_key" = []))
)]
#[post("/v1/schedules/{id}/resume")]
pub async fn resume(
    tenant: Tenant,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    change(&state, tenant.0, path.into_inner(), Change::Resume).await
}

async fn resumed(
    conn: &mut Conn,
    mut row: ScheduleRow,
    now: DateTime<Utc>,
    producer: &str,
) -> Result<ScheduleRow, ApiError> {
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

/// Run the schedule's task now, once, whatever its timetable and overlap policy say.
#[utoipa::path(
    tag = "schedules",
    operation_id = "trigger_schedule",
    params(("id" = Uuid, Path, description = "The schedule (another tenant's is 404 like a missing one)")),
    responses(
        (status = 202, description = "The trigger is recorded and will be sent to svc-tasks", body = ref("#/components/schemas/Triggered")),
        (status = 404, description = "No such schedule"),
    ),
    security(("api_key" = []))
)]
#[post("/v1/schedules/{id}/trigger")]
pub async fn trigger(
    tenant: Tenant,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let now = state.clock.now();
    let instant = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
    let producer = state.producer.clone();
    let mut conn = state.pool.get().await.map_err(StoreError::from)?;
    let task = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let row = store::lock_schedule(conn, tenant.0, id)
                .await?
                .ok_or_else(|| missing(id))?;
            let model = model_of(&row)?;
            let task = task_id(id, instant);
            let steps = [Step::Trigger {
                nominal: instant,
                task_id: task,
                cancel: None,
            }];
            record(conn, &row, &model, &steps, Some("manual"), now, &producer).await?;
            Ok(task)
        })
        .await?;
    state.outbox_ready.notify_one();
    Ok(HttpResponse::Accepted().json(json!({"nominal_time": instant, "task_id": task})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackfillBody {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// Runs every instant of the timetable in (from, to] that has no occurrence yet (at most
/// 1,000), as the timetable would have, whatever the overlap policy.
#[utoipa::path(
    tag = "schedules",
    operation_id = "backfill_schedule",
    params(("id" = Uuid, Path, description = "The schedule (another tenant's is 404 like a missing one)")),
    request_body = ref("#/components/schemas/Backfill"),
    responses(
        (status = 202, description = "The triggers are recorded", body = ref("#/components/schemas/Backfilled")),
        (status = 404, description = "No such schedule"),
        (status = 422, description = "`to` not after `from` or in the future, more than 1,000 instants, or an unknown field"),
    ),
    security(("api_key" = []))
)]
#[post("/v1/schedules/{id}/backfill")]
pub async fn backfill(
    tenant: Tenant,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    body: web::Json<BackfillBody>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let BackfillBody { from, to } = body.into_inner();
    let now = state.clock.now();
    if to <= from || to > now {
        return Err(invalid(vec![crate::template::TemplateProblem {
            pointer: "/to".into(),
            message: "to must be after from and not in the future".into(),
        }]));
    }
    let producer = state.producer.clone();
    let mut conn = state.pool.get().await.map_err(StoreError::from)?;
    let fired = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let row = store::lock_schedule(conn, tenant.0, id)
                .await?
                .ok_or_else(|| missing(id))?;
            let model = model_of(&row)?;
            let wanted = instants(
                &model.spec,
                &model.window,
                row.anchor,
                from,
                to,
                MAX_INSTANTS + 1,
            );
            if wanted.len() > MAX_INSTANTS {
                return Err(invalid(vec![crate::template::TemplateProblem {
                    pointer: "/from".into(),
                    message: format!(
                        "more than {MAX_INSTANTS} instants in that range; backfill it in parts"
                    ),
                }]));
            }
            let known = store::recorded_instants(conn, id, &wanted).await?;
            let steps: Vec<Step> = wanted
                .into_iter()
                .filter(|n| !known.contains(n))
                .map(|nominal| Step::Trigger {
                    nominal,
                    task_id: task_id(id, nominal),
                    cancel: None,
                })
                .collect();
            record(conn, &row, &model, &steps, Some("backfill"), now, &producer).await?;
            Ok(steps.len())
        })
        .await?;
    state.outbox_ready.notify_one();
    Ok(HttpResponse::Accepted().json(json!({"triggered": fired})))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OccurrencesQuery {
    /// `next_before` of the previous page: the occurrences before this instant.
    pub before: Option<DateTime<Utc>>,
    /// Page size, default 100.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// Every decided instant, newest first, with what became of it.
#[utoipa::path(
    tag = "schedules",
    operation_id = "schedule_occurrences",
    params(("id" = Uuid, Path, description = "The schedule (another tenant's is 404 like a missing one)"),
        OccurrencesQuery),
    responses(
        (status = 200, description = "A page, newest first", body = ref("#/components/schemas/OccurrenceList")),
        (status = 400, description = "Unknown or invalid query parameter"),
        (status = 404, description = "No such schedule"),
    ),
    security(("api_key" = []))
)]
#[get("/v1/schedules/{id}/occurrences")]
pub async fn occurrences(
    tenant: Tenant,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    query: web::Query<OccurrencesQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(bad_request(
            "invalid-query",
            "Invalid query parameter",
            format!("limit must be from 1 to 500, not {limit}"),
        ));
    }
    let mut conn = state.pool.get().await.map_err(StoreError::from)?;
    store::get_schedule(&mut conn, tenant.0, id)
        .await?
        .ok_or_else(|| missing(id))?;
    let rows = store::list_occurrences(&mut conn, id, query.before, limit).await?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.nominal_time))
        .flatten();
    Ok(HttpResponse::Ok().json(json!({
        "items": rows.into_iter().map(OccurrenceView::from).collect::<Vec<_>>(),
        "next_before": next,
    })))
}
