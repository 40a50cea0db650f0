//! Every error svc-notify answers, as RFC 9457 problem documents with stable slugs.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use taskflow_platform::problem::{DatabaseFailure, Problem};

use crate::service::resume::ResumeError;
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

/// How svc-notify answers a failed database call: 503 + Retry-After when it is transient, 500
/// otherwise (the platform's `db::is_transient` decides).
const DATABASE: DatabaseFailure<'static> = DatabaseFailure {
    unavailable: "the notification database does not answer; retry shortly",
    internal: "the request failed inside svc-notify",
};

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError(DATABASE.answer(&error, error.is_transient()))
    }
}

impl From<ResumeError> for ApiError {
    fn from(error: ResumeError) -> Self {
        match error {
            ResumeError::Malformed { .. } => {
                bad_request("invalid-cursor", "Invalid resume cursor", error.to_string())
            }
            ResumeError::Ahead { latest, .. } => bad_request(
                "cursor-ahead",
                "Resume cursor is ahead of the feed",
                error.to_string(),
            )
            .with_extension("latest_seq", latest),
            ResumeError::Store(e) => e.into(),
        }
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

#[cfg(test)]
mod tests {
    use actix_web::http::header::{CONTENT_TYPE, RETRY_AFTER};
    use diesel::result::{DatabaseErrorKind, Error as DieselError};
    use diesel_async::pooled_connection::deadpool::PoolError;

    use super::*;

    /// Status, `Retry-After` and problem type of the answer actix sends for `e`.
    fn answer(e: StoreError) -> (StatusCode, Option<String>, String) {
        let response = ApiError::from(e).error_response();
        assert_eq!(
            response.headers().get(CONTENT_TYPE).expect("header"),
            taskflow_platform::problem::CONTENT_TYPE
        );
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .map(|v| v.to_str().expect("ascii").to_owned());
        let status = response.status();
        let body = actix_web::body::MessageBody::try_into_bytes(response.into_body())
            .expect("a complete body");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
        (
            status,
            retry_after,
            body["type"].as_str().expect("type").to_owned(),
        )
    }

    fn db(kind: DatabaseErrorKind, message: &str) -> StoreError {
        StoreError::Query(DieselError::DatabaseError(
            kind,
            Box::new(message.to_owned()),
        ))
    }

    /// Promise P8: a bug (an unreadable row, a violated constraint) is a 500, never a 503 that
    /// clients would retry forever.
    #[test]
    fn a_database_error_retrying_will_not_cure_is_a_500_without_retry_after() {
        for e in [
            StoreError::Corrupt {
                what: "notification",
                reason: "bad kind".into(),
            },
            StoreError::Query(DieselError::DeserializationError("unexpected null".into())),
            db(
                DatabaseErrorKind::UniqueViolation,
                "duplicate key value violates unique constraint",
            ),
            db(DatabaseErrorKind::Unknown, "column \"x\" does not exist"),
            StoreError::Pool(PoolError::NoRuntimeSpecified),
        ] {
            let shown = e.to_string();
            assert_eq!(
                answer(e),
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    None,
                    "urn:taskflow:problem:internal".into()
                ),
                "{shown}"
            );
        }
    }

    #[test]
    fn a_transient_database_error_is_a_503_with_retry_after() {
        for e in [
            StoreError::Pool(PoolError::Closed),
            db(DatabaseErrorKind::ClosedConnection, "connection closed"),
            db(
                DatabaseErrorKind::Unknown,
                "terminating connection due to administrator command",
            ),
            StoreError::Query(DieselError::BrokenTransactionManager),
        ] {
            let shown = e.to_string();
            assert_eq!(
                answer(e),
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Some("2".into()),
                    "urn:taskflow:problem:unavailable".into()
                ),
                "{shown}"
            );
        }
    }
}
