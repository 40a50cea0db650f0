//! `POST /v1/stream-tokens`: exchanges the API key (header) for a short-lived stream token a
//! browser can put in a URL. Only an API key may ask: a token cannot mint more tokens.

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::AppState;
use super::auth::{API_KEY_PREFIX, caller};
use super::errors::{ApiError, bad_request, unauthorized};
use super::params::Params;
use super::streams::check_task;
use crate::domain::token::{self, Claims, DEFAULT_TTL_SECS, MAX_TTL_SECS, MIN_TTL_SECS};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Limit the token to this task's stream and history.
    pub task_id: Option<Uuid>,
    /// 10..=900, default 300.
    pub ttl_seconds: Option<i64>,
}

#[post("/v1/stream-tokens")]
pub async fn issue(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    Params::parse(&req, &[])?;
    let presented_key = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains(API_KEY_PREFIX));
    if !presented_key {
        return Err(unauthorized(
            "unauthorized",
            "send Authorization: Bearer <api key>; a stream token cannot be exchanged for another",
        ));
    }
    let caller = caller(&req, &state, None).await?;
    let request = parse_body(&body)?;
    let ttl = request.ttl_seconds.unwrap_or(DEFAULT_TTL_SECS);
    if !(MIN_TTL_SECS..=MAX_TTL_SECS).contains(&ttl) {
        return Err(ApiError(
            taskflow_platform::problem::Problem::new(
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-body",
                "Invalid request body",
                format!("ttl_seconds must be from {MIN_TTL_SECS} to {MAX_TTL_SECS}, not {ttl}"),
            )
            .with("pointer", "/ttl_seconds"),
        ));
    }
    if let Some(task_id) = request.task_id {
        check_task(&state, &caller, task_id).await?;
    }
    let expires_at = chrono::Utc::now().timestamp() + ttl;
    let claims = Claims {
        tenant_id: caller.tenant_id,
        key_id: caller.key_id,
        task_id: request.task_id,
        expires_at,
    };
    let token = token::sign(&claims, &state.token_secret);
    Ok(HttpResponse::Created().json(json!({
        "token": token,
        "tenant_id": caller.tenant_id,
        "task_id": request.task_id,
        "expires_at": chrono::DateTime::from_timestamp(expires_at, 0),
        "ttl_seconds": ttl,
    })))
}

/// An empty body asks for the defaults; anything else must be a JSON object of the request.
fn parse_body(body: &[u8]) -> Result<TokenRequest, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(TokenRequest::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            ApiError(taskflow_platform::problem::Problem::new(
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-body",
                "Invalid request body",
                format!(
                    "{e}; fields: task_id (uuid), ttl_seconds ({MIN_TTL_SECS}..={MAX_TTL_SECS})"
                ),
            ))
        } else {
            bad_request("malformed-json", "Malformed JSON", e.to_string())
        }
    })
}
