//! Every error svc-notify answers, as RFC 9457 problem documents with stable slugs.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use taskflow_platform::problem::Problem;

use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError(pub Problem);

impl ApiError {
    pub fn with_extension(self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        ApiError(self.0.with(key, value))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        self.0.error_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "database unavailable");
        ApiError(
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Temporarily unavailable",
                "the notification database does not answer; retry shortly",
            )
            .retry_after(2),
        )
    }
}

pub fn unauthorized(slug: &str, detail: impl Into<String>) -> ApiError {
    ApiError(Problem::new(
        StatusCode::UNAUTHORIZED,
        slug,
        "Missing or invalid credentials",
        detail,
    ))
}

pub fn bad_request(slug: &str, title: &str, detail: impl Into<String>) -> ApiError {
    ApiError(Problem::new(StatusCode::BAD_REQUEST, slug, title, detail))
}

/// 422 for a body that parsed but breaks a rule; `pointer` locates it (RFC 6901).
pub fn invalid_body(pointer: &str, detail: impl Into<String>) -> ApiError {
    ApiError(
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "Invalid request body",
            detail,
        )
        .with("pointer", pointer),
    )
}

pub fn not_found(detail: impl Into<String>) -> ApiError {
    ApiError(Problem::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        detail,
    ))
}

pub fn query_error(err: actix_web::error::QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    bad_request("invalid-query", "Invalid query parameter", err.to_string()).into()
}

pub fn path_error(err: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    not_found(format!("no such resource: {err}")).into()
}

pub fn json_error(err: actix_web::error::JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    let problem = match &err {
        E::OverflowKnownLength { .. } | E::Overflow { .. } => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "Request body too large",
            err.to_string(),
        ),
        E::ContentType => Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "send Content-Type: application/json",
        ),
        E::Deserialize(e) if e.is_data() => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "Invalid request body",
            err.to_string(),
        ),
        _ => Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            "Malformed JSON",
            err.to_string(),
        ),
    };
    ApiError(problem).into()
}
