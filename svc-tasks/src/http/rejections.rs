//! Requests actix rejects before a handler runs, and bodies a handler reads itself: as RFC 9457
//! problems (unreadable or oversized bodies, unknown paths, bad query strings).

use actix_web::HttpRequest;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use taskflow_platform::problem::Problem;

use super::errors::ApiError;

/// `JsonConfig`'s error handler.
pub fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let problem = match &err {
        JsonPayloadError::OverflowKnownLength { length, limit } => Problem {
            detail: format!("body of {length} bytes exceeds the limit of {limit} bytes"),
            ..body_too_large(*limit)
        },
        JsonPayloadError::Overflow { limit } => body_too_large(*limit),
        JsonPayloadError::ContentType => Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Body must be JSON",
            "send Content-Type: application/json",
        ),
        JsonPayloadError::Deserialize(e) => return body_problem(e).into(),
        other => Problem::new(
            StatusCode::BAD_REQUEST,
            "unreadable-body",
            "Body could not be read",
            other.to_string(),
        ),
    };
    ApiError(problem).into()
}

/// 413 for a body over `limit` bytes.
pub fn body_too_large(limit: usize) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body-too-large",
        "Request body too large",
        format!("body exceeds the limit of {limit} bytes"),
    )
    .with("limit_bytes", limit)
}

/// A body that is not JSON (400) or not the expected fields (422).
pub fn body_problem(e: &serde_json::Error) -> ApiError {
    ApiError(if e.is_data() {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "Body does not have the expected fields",
            e.to_string(),
        )
    } else {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            "Body is not valid JSON",
            e.to_string(),
        )
    })
}

pub fn path_error(err: PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError(Problem::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        format!("no such resource: {err}"),
    ))
    .into()
}

pub fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError(Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid-query",
        "Invalid query parameters",
        err.to_string(),
    ))
    .into()
}
