//! `/v1/schedules`: create, read, change, pause/resume, run now, backfill, and the occurrences.
//! Each handler parses the request, calls its use case in `service` and answers; the OpenAPI
//! annotations here are what `/openapi.json` says of each operation.

use actix_web::http::header::LOCATION;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use taskflow_platform::http::Tenant;
use taskflow_platform::http::correlation::CorrelationId;
use taskflow_platform::http::rejections::{self, body_too_large, unreadable_body};

use super::errors::{ApiError, REJECTIONS};
use super::views::{OccurrenceView, ScheduleView};
use super::{AppState, MAX_BODY_BYTES};
use crate::domain::definition::Definition;
use crate::service::{change, schedules, trigger as run};
use crate::store::ScheduleRow;

fn view(row: &ScheduleRow) -> Value {
    serde_json::to_value(ScheduleView::from(row)).unwrap_or_default()
}

/// `limit` of a page: 1 to 500, 100 when absent.
fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError(rejections::invalid_query(format!(
            "limit must be from 1 to 500, not {limit}"
        ))));
    }
    Ok(limit)
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
    correlation: CorrelationId,
    state: web::Data<AppState>,
    body: web::Json<Definition>,
) -> Result<HttpResponse, ApiError> {
    let row = schedules::create(
        &state.services,
        tenant.tenant_id,
        body.into_inner(),
        &correlation.0,
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, format!("/v1/schedules/{}", row.id)))
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
    let limit = page_limit(query.limit)?;
    let rows = schedules::list(&state.services, tenant.tenant_id, query.after, limit).await?;
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
    let row = schedules::get(&state.services, tenant.tenant_id, path.into_inner()).await?;
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
    correlation: CorrelationId,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    body: web::Json<Map<String, Value>>,
) -> Result<HttpResponse, ApiError> {
    let row = change::patch(
        &state.services,
        tenant.tenant_id,
        path.into_inner(),
        body.into_inner(),
        &correlation.0,
    )
    .await?;
    Ok(HttpResponse::Ok().json(view(&row)))
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
    correlation: CorrelationId,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    schedules::delete(&state.services, tenant.tenant_id, id, &correlation.0).await?;
    Ok(HttpResponse::NoContent().finish())
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
        Ok(Err(e)) => return Err(ApiError(unreadable_body(e.to_string()))),
        Err(_) => return Err(ApiError(body_too_large(MAX_BODY_BYTES))),
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
        return Err(ApiError(rejections::unsupported_media_type(
            "send Content-Type: application/json",
        )));
    }
    serde_json::from_slice(&body).map_err(|e| ApiError(REJECTIONS.body(&e)))
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
    correlation: CorrelationId,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let note = optional_json::<PauseBody>(&req, body)
        .await?
        .and_then(|b| b.note);
    let id = path.into_inner();
    let row = change::pause(&state.services, tenant.tenant_id, id, note, &correlation.0).await?;
    Ok(HttpResponse::Ok().json(view(&row)))
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
    correlation: CorrelationId,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let row = change::resume(&state.services, tenant.tenant_id, id, &correlation.0).await?;
    Ok(HttpResponse::Ok().json(view(&row)))
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
    let run::Triggered {
        nominal_time,
        task_id,
    } = run::trigger(&state.services, tenant.tenant_id, path.into_inner()).await?;
    Ok(HttpResponse::Accepted().json(json!({"nominal_time": nominal_time, "task_id": task_id})))
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
    let BackfillBody { from, to } = body.into_inner();
    let fired = run::backfill(
        &state.services,
        tenant.tenant_id,
        path.into_inner(),
        from,
        to,
    )
    .await?;
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
    let limit = page_limit(query.limit)?;
    let rows = schedules::occurrences(
        &state.services,
        tenant.tenant_id,
        path.into_inner(),
        query.before,
        limit,
    )
    .await?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.nominal_time))
        .flatten();
    Ok(HttpResponse::Ok().json(json!({
        "items": rows.into_iter().map(OccurrenceView::from).collect::<Vec<_>>(),
        "next_before": next,
    })))
}
