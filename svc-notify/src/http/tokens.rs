//! `POST /v1/stream-tokens`: exchanges the API key (header) for a short-lived stream token a
//! browser can put in a URL. Only an API key may ask: a token cannot mint more tokens.

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;
use serde_json::json;
use taskflow_platform::http::rejections::malformed_json;
use uuid::Uuid;

use super::AppState;
use super::auth::{API_KEY_PREFIX, caller, check_task};
use super::errors::{ApiError, REJECTIONS, invalid_body, unauthorized};
use super::params::Params;
use crate::domain::token::{self, Claims, DEFAULT_TTL_SECS, MAX_TTL_SECS, MIN_TTL_SECS};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Limit the token to this task's stream and history.
    pub task_id: Option<Uuid>,
    /// 10..=900, default 300; a whole number (`615.0` is 615, as JSON Schema's `integer`).
    pub ttl_seconds: Option<serde_json::Number>,
}

/// `ttl_seconds` as a whole number of seconds; `None` for a fraction or a huge number.
fn whole_seconds(number: &serde_json::Number) -> Option<i64> {
    number.as_i64().or_else(|| {
        number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64)
    })
}

#[post("/v1/stream-tokens")]
pub async fn issue(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    Params::parse(&req, &[])?;
    let presented_key = taskflow_platform::http::bearer::bearer(&req)
        .is_some_and(|credential| credential.starts_with(API_KEY_PREFIX));
    if !presented_key {
        return Err(unauthorized(
            "unauthorized",
            "send Authorization: Bearer <api key>; a stream token cannot be exchanged for another",
        ));
    }
    let caller = caller(&req, &state, None).await?;
    let request = parse_body(&body)?;
    let ttl = match &request.ttl_seconds {
        None => Some(DEFAULT_TTL_SECS),
        Some(number) => whole_seconds(number),
    }
    .filter(|ttl| (MIN_TTL_SECS..=MAX_TTL_SECS).contains(ttl));
    let Some(ttl) = ttl else {
        let given = request
            .ttl_seconds
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        return Err(invalid_body(
            "/ttl_seconds",
            format!(
                "ttl_seconds must be a whole number from {MIN_TTL_SECS} to {MAX_TTL_SECS}, not {given}"
            ),
        ));
    };
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
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ApiError(malformed_json(e.to_string())))?;
    if !value.is_object() {
        // serde would read a struct from an array (`[null, null]`) too.
        return Err(invalid_body(
            "",
            format!(
                "the body must be a JSON object (or empty); fields: task_id (uuid), ttl_seconds ({MIN_TTL_SECS}..={MAX_TTL_SECS})"
            ),
        ));
    }
    serde_json::from_value(value).map_err(|e| {
        if e.is_data() {
            ApiError(taskflow_platform::problem::Problem::new(
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                REJECTIONS.invalid_body,
                REJECTIONS.invalid_body_title,
                format!(
                    "{e}; fields: task_id (uuid), ttl_seconds ({MIN_TTL_SECS}..={MAX_TTL_SECS})"
                ),
            ))
        } else {
            ApiError(malformed_json(e.to_string()))
        }
    })
}
