//! `/v1/tasks`: submit, read, list, history, cancel.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use taskflow_platform::problem::Problem;
use uuid::Uuid;

use super::AppState;
use super::auth::Tenant;
use super::correlation::CorrelationId;
use super::dto::{BatchCreated, CancelTask, EventList, SubmitBatch, SubmitTask, TaskDto, TaskList};
use super::errors::ApiError;
use crate::domain::TaskStatus;
use crate::domain::submission::parse_priority;
use crate::service::submit::{SubmitItem, submit};
use crate::service::{ServiceError, cancel};
use crate::store::{self, ListFilter};

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
const MAX_BATCH: usize = 1000;

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if !key.is_empty() && key.len() <= 255 => Ok(Some(key.to_owned())),
        _ => Err(ApiError(Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-idempotency-key",
            "Invalid Idempotency-Key",
            "the key must be 1-255 visible ASCII characters",
        ))),
    }
}

/// Submit a task.
#[utoipa::path(
    tag = "tasks",
    request_body = SubmitTask,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: same key and body return the same task")),
    responses(
        (status = 201, description = "Created (or replayed: header Idempotent-Replayed)", body = TaskDto),
        (status = 400, description = "Malformed JSON"),
        (status = 409, description = "Same key still in flight"),
        (status = 413, description = "Body too large"),
        (status = 422, description = "Invalid submission, or key reused with another body"),
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
    body: web::Json<SubmitTask>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let item = SubmitItem {
        submission: body.into_inner().into_submission(),
        idempotency_key: key,
    };
    let mut submitted = submit(&state.services, &tenant.0, vec![item], &correlation.0).await?;
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
        (status = 201, description = "All created", body = BatchCreated),
        (status = 422, description = "An item is invalid (`index` says which); nothing created"),
        (status = 429, description = "The batch would exceed a quota; nothing created"),
    ),
    security(("api_key" = []))
)]
#[post("/v1/tasks:batch")]
pub async fn submit_batch(
    state: web::Data<AppState>,
    tenant: Tenant,
    correlation: CorrelationId,
    body: web::Json<SubmitBatch>,
) -> Result<HttpResponse, ApiError> {
    let items = body.into_inner().tasks;
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
    let submitted = submit(&state.services, &tenant.0, items, &correlation.0).await?;
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// pending, running, retrying, completed, failed, cancelled
    pub status: Option<String>,
    #[serde(rename = "type")]
    pub task_type: Option<String>,
    pub priority: Option<String>,
    /// RFC 3339 timestamp
    pub created_after: Option<String>,
    /// 1..=500, default 50
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

fn bad_query(parameter: &str, detail: String) -> ApiError {
    ApiError(
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-query",
            "Invalid query parameter",
            detail,
        )
        .with("parameter", parameter),
    )
}

fn encode_cursor(task: &TaskDto) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}|{}",
        task.created_at.timestamp_micros(),
        task.id
    ))
}

fn decode_cursor(cursor: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (micros, id) = raw.split_once('|')?;
    Some((
        DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        id.parse().ok()?,
    ))
}

impl ListQuery {
    fn into_filter(self) -> Result<ListFilter, ApiError> {
        if let Some(s) = &self.status
            && TaskStatus::parse(s).is_none()
        {
            return Err(bad_query("status", format!("{s:?} is not a task status")));
        }
        if let Some(p) = &self.priority
            && parse_priority(p).is_none()
        {
            return Err(bad_query(
                "priority",
                format!("{p:?} is not one of low, normal, high, critical"),
            ));
        }
        let created_after = self
            .created_after
            .as_deref()
            .map(|s| {
                DateTime::parse_from_rfc3339(s)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| {
                        bad_query(
                            "created_after",
                            format!("{s:?} is not an RFC 3339 time: {e}"),
                        )
                    })
            })
            .transpose()?;
        let limit = self.limit.unwrap_or(50);
        if !(1..=500).contains(&limit) {
            return Err(bad_query("limit", format!("{limit} is outside 1..=500")));
        }
        let before = self
            .cursor
            .as_deref()
            .map(|c| {
                decode_cursor(c)
                    .ok_or_else(|| bad_query("cursor", "not a cursor this API issued".into()))
            })
            .transpose()?;
        Ok(ListFilter {
            status: self.status,
            task_type: self.task_type,
            priority: self.priority,
            created_after,
            before,
            limit,
        })
    }
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

/// Ask for a task to stop. Recorded once; the executor ends the task as `cancelled`.
#[utoipa::path(
    tag = "tasks",
    params(("id" = Uuid, Path)),
    request_body(content = Option<CancelTask>),
    responses(
        (status = 202, description = "Cancellation recorded", body = TaskDto),
        (status = 404, description = "No such task for this tenant"),
        (status = 409, description = "The task has already ended"),
    ),
    security(("api_key" = []))
)]
#[post("/v1/tasks/{id}/cancel")]
pub async fn cancel_task(
    state: web::Data<AppState>,
    tenant: Tenant,
    correlation: CorrelationId,
    id: web::Path<Uuid>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let reason = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<CancelTask>(&body)
            .map_err(|e| super::errors::body_problem(&e))?
            .reason
    };
    let task = cancel::cancel(&state.services, tenant.0.id, *id, reason, &correlation.0).await?;
    Ok(HttpResponse::Accepted().json(TaskDto::from(task)))
}
