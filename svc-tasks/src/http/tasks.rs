//! `/v1/tasks`: submit, read, list, history, cancel.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, get, post, web};
use serde_json::json;
use taskflow_platform::http::rejections;
use taskflow_platform::problem::Problem;
use uuid::Uuid;

use super::AppState;
use super::auth::Tenant;
use super::correlation::CorrelationId;
use super::dto::{
    BatchCreated, CancelTask, EventList, Obj, SubmitBatch, SubmitTask, TaskDto, TaskList,
};
use super::errors::{ApiError, REJECTIONS};
use super::list_query::encode_cursor;
pub use super::list_query::{CURSOR_PATTERN, ListQuery};
use crate::domain::submission::{MAX_IDEMPOTENCY_KEY, valid_idempotency_key};
use crate::domain::text::{NUL_MESSAGE, storable};
use crate::service::submit::{SubmitItem, submit};
use crate::service::{ServiceError, cancel};
use crate::store;

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
const MAX_BATCH: usize = 1000;

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if valid_idempotency_key(key) => Ok(Some(key.to_owned())),
        _ => Err(ApiError(
            Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid-idempotency-key",
                "Invalid Idempotency-Key",
                format!(
                    "the key must be 1-{MAX_IDEMPOTENCY_KEY} printable ASCII characters, not starting or ending with a space"
                ),
            )
            .with("header", "Idempotency-Key"),
        )),
    }
}

/// Submit a task.
#[utoipa::path(
    tag = "tasks",
    request_body = SubmitTask,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: same key and body return the same task")),
    responses(
        (status = 201, description = "Created (or replayed: header Idempotent-Replayed)", body = TaskDto,
         headers(("Location" = String, description = "The task"), ("Idempotent-Replayed" = Option<String>, description = "`true` when an earlier request with this key created the task"))),
        (status = 400, description = "Malformed JSON"),
        (status = 409, description = "Same key still in flight"),
        (status = 413, description = "Body too large"),
        (status = 422, description = "Invalid submission (`errors[].pointer` says where; `run_at` with `delay_ms`, or `run_at` over 365 days ahead or over 60 s in the past), or key reused with another body"),
        (status = 429, description = "Quota exceeded; see Retry-After and `reason`"),
    ),
    security(("api_key" = []))
)]
#[post("/v1/tasks")]
pub async fn submit_task(
    state: web::Data<AppState>,
    tenant: Tenant,
    correlation: CorrelationId,
    req: HttpRequest,
    body: web::Json<Obj<SubmitTask>>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let item = SubmitItem {
        submission: body.into_inner().0.into_submission(),
        idempotency_key: key,
    };
    let mut submitted = submit(
        &state.services,
        &tenant.0,
        vec![item],
        false,
        &correlation.0,
    )
    .await?;
    let Some(first) = submitted.pop() else {
        return Err(ServiceError::TaskNotFound.into());
    };
    let mut response = HttpResponse::Created();
    response.insert_header((LOCATION, format!("/v1/tasks/{}", first.task.id)));
    if first.replayed {
        response.insert_header(("idempotent-replayed", "true"));
    }
    Ok(response.json(TaskDto::from(first.task)))
}

/// Submit many tasks at once: all are created or none is.
#[utoipa::path(
    tag = "tasks",
    request_body = SubmitBatch,
    responses(
        (status = 201, description = "All created (or replayed, item by item)", body = BatchCreated),
        (status = 409, description = "An item's idempotency key is in flight in another request; see Retry-After"),
        (status = 422, description = "An item is invalid (`index` says which; `errors[].pointer` into the body), or reuses a key with another body; nothing created"),
        (status = 429, description = "The batch would exceed a quota; nothing created"),
    ),
    security(("api_key" = []))
)]
#[post("/v1/tasks:batch")]
pub async fn submit_batch(
    state: web::Data<AppState>,
    tenant: Tenant,
    correlation: CorrelationId,
    body: web::Json<Obj<SubmitBatch>>,
) -> Result<HttpResponse, ApiError> {
    let items = body.into_inner().0.tasks;
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(ApiError(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-batch-size",
            "Invalid batch size",
            format!("a batch holds 1 to {MAX_BATCH} tasks, got {}", items.len()),
        )));
    }
    let items = items
        .into_iter()
        .map(|item| {
            let (submission, idempotency_key) = item.into_parts();
            SubmitItem {
                submission,
                idempotency_key,
            }
        })
        .collect();
    let submitted = submit(&state.services, &tenant.0, items, true, &correlation.0).await?;
    Ok(HttpResponse::Created().json(BatchCreated {
        tasks: submitted.into_iter().map(|s| s.task.into()).collect(),
    }))
}

/// Read a task's live state.
#[utoipa::path(
    tag = "tasks",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = TaskDto), (status = 404, description = "No such task for this tenant")),
    security(("api_key" = []))
)]
#[get("/v1/tasks/{id}")]
pub async fn get_task(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.services.db.get().await.map_err(ServiceError::from)?;
    let task = store::get_task(&mut conn, tenant.0.id, *id)
        .await
        .map_err(ServiceError::from)?
        .ok_or(ServiceError::TaskNotFound)?;
    Ok(HttpResponse::Ok().json(TaskDto::from(task)))
}

/// List the tenant's tasks, newest first.
#[utoipa::path(
    tag = "tasks",
    params(ListQuery),
    responses((status = 200, body = TaskList), (status = 400, description = "Invalid filter")),
    security(("api_key" = []))
)]
#[get("/v1/tasks")]
pub async fn list_tasks(
    state: web::Data<AppState>,
    tenant: Tenant,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let filter = query.into_inner().into_filter()?;
    let limit = filter.limit as usize;
    let mut conn = state.services.db.get().await.map_err(ServiceError::from)?;
    let tasks: Vec<TaskDto> = store::list_tasks(&mut conn, tenant.0.id, &filter)
        .await
        .map_err(ServiceError::from)?
        .into_iter()
        .map(TaskDto::from)
        .collect();
    let next_cursor = (tasks.len() == limit)
        .then(|| tasks.last().map(encode_cursor))
        .flatten();
    Ok(HttpResponse::Ok().json(TaskList { tasks, next_cursor }))
}

/// The task's full event history, in order.
#[utoipa::path(
    tag = "tasks",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = EventList), (status = 404, description = "No such task for this tenant")),
    security(("api_key" = []))
)]
#[get("/v1/tasks/{id}/events")]
pub async fn task_events(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.services.db.get().await.map_err(ServiceError::from)?;
    store::get_task(&mut conn, tenant.0.id, *id)
        .await
        .map_err(ServiceError::from)?
        .ok_or(ServiceError::TaskNotFound)?;
    let events = store::task_history(&mut conn, *id)
        .await
        .map_err(ServiceError::from)?;
    Ok(HttpResponse::Ok().json(EventList {
        task_id: *id,
        events: events.into_iter().map(Into::into).collect(),
    }))
}

/// The reason of a cancellation request: no body, an empty one, `null`, `{}` or
/// `{"reason": null}` mean "no reason". A non-empty body must be JSON.
fn cancel_reason(req: &HttpRequest, body: &[u8]) -> Result<Option<String>, ApiError> {
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
            "send Content-Type: application/json (or no body at all)",
        )));
    }
    let cancel = serde_json::from_slice::<Option<Obj<CancelTask>>>(body)
        .map_err(|e| ApiError(REJECTIONS.body(&e)))?
        .unwrap_or_default()
        .0;
    if let Some(reason) = &cancel.reason
        && !storable(reason)
    {
        let detail = format!("reason {NUL_MESSAGE}");
        return Err(ApiError(
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-cancellation",
                "Invalid cancellation request",
                detail.clone(),
            )
            .with("errors", json!([{"pointer": "/reason", "message": detail}])),
        ));
    }
    Ok(cancel.reason)
}

/// Reads the whole body, refusing one over the configured limit with a 413 problem.
pub async fn read_body(payload: web::Payload, limit: usize) -> Result<web::Bytes, ApiError> {
    match payload.to_bytes_limited(limit).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => Err(ApiError(rejections::unreadable_body(e.to_string()))),
        Err(_) => Err(ApiError(rejections::body_too_large(limit))),
    }
}

/// Ask for a task to stop. Recorded once; the executor ends the task as `cancelled`.
#[utoipa::path(
    tag = "tasks",
    params(("id" = Uuid, Path)),
    request_body(content = Option<CancelTask>, description = "Optional: no body, `null` and `{}` all mean no reason"),
    responses(
        (status = 202, description = "Cancellation recorded", body = TaskDto),
        (status = 404, description = "No such task for this tenant"),
        (status = 409, description = "The task has already ended, or changed meanwhile (retry)"),
        (status = 422, description = "Invalid body or reason"),
    ),
    security(("api_key" = []))
)]
#[post("/v1/tasks/{id}/cancel")]
pub async fn cancel_task(
    state: web::Data<AppState>,
    tenant: Tenant,
    correlation: CorrelationId,
    id: web::Path<Uuid>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(payload, state.max_body_bytes).await?;
    let reason = cancel_reason(&req, &body)?;
    let task = cancel::cancel(&state.services, tenant.0.id, *id, reason, &correlation.0).await?;
    Ok(HttpResponse::Accepted().json(TaskDto::from(task)))
}
