//! Every error svc-scheduler answers, as RFC 9457 problem documents with stable slugs.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use taskflow_platform::problem::Problem;

use crate::store::StoreError;
use crate::template::TemplateProblem;

#[derive(Debug)]
pub struct ApiError(pub Problem);

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

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        StoreError::from(error).into()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NameTaken(name) => ApiError(Problem::new(
                StatusCode::CONFLICT,
                "schedule-name-taken",
                "Schedule name taken",
                format!("this tenant has a schedule named {name:?} already"),
            )),
            other => {
                tracing::error!(error = %other, "database unavailable");
                ApiError(
                    Problem::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "Temporarily unavailable",
                        "the scheduler database does not answer; retry shortly",
                    )
                    .retry_after(2),
                )
            }
        }
    }
}

pub fn invalid(problems: Vec<TemplateProblem>) -> ApiError {
    let detail = problems
        .iter()
        .map(|p| format!("{}: {}", p.pointer, p.message))
        .collect::<Vec<_>>()
        .join("; ");
    ApiError(
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-schedule",
            "Invalid schedule",
            detail,
        )
        .with(
            "problems",
            serde_json::to_value(problems).unwrap_or_default(),
        ),
    )
}

pub fn unauthorized(detail: &str) -> ApiError {
    ApiError(Problem::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Missing or invalid credentials",
        detail,
    ))
}

pub fn not_found(detail: impl Into<String>) -> ApiError {
    ApiError(Problem::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        detail,
    ))
}

pub fn bad_request(slug: &str, title: &str, detail: impl Into<String>) -> ApiError {
    ApiError(Problem::new(StatusCode::BAD_REQUEST, slug, title, detail))
}

pub fn query_error(err: actix_web::error::QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    bad_request("invalid-query", "Invalid query parameter", err.to_string()).into()
}

pub fn path_error(err: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    not_found(format!("no such resource: {err}")).into()
}

pub fn json_error(err: actix_web::error::JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    json_problem(&err).into()
}

/// A body that is too large (413), not JSON (415), malformed (400) or not what the operation
/// takes (422).
pub fn json_problem(err: &actix_web::error::JsonPayloadError) -> ApiError {
    use actix_web::error::JsonPayloadError as E;
    let problem = match err {
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
            "invalid-schedule",
            "Invalid schedule",
            err.to_string(),
        ),
        _ => Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            "Malformed JSON",
            err.to_string(),
        ),
    };
    ApiError(problem)
}

/// The default service: 405 with `Allow` on a path the API serves (as its document lists
/// them), 404 elsewhere.
pub async fn no_route(req: HttpRequest) -> HttpResponse {
    taskflow_platform::problem::no_route(
        req.method(),
        req.path(),
        super::docs::allowed_methods(req.path()),
        "no such endpoint; the API is under /v1/schedules (see /openapi.json)",
    )
}
