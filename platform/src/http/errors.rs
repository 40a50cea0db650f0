//! The error every handler and extractor returns: an RFC 9457 problem document
//! ([`crate::problem::Problem`]), and the answers every service gives alike (401, 400, 404, a
//! failed database call). Each service maps its own use-case errors into [`ApiError`] in its
//! `http/errors.rs` (`impl From<ServiceError> for ApiError`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::Value;

use crate::db::{DbError, is_transient, is_transient_pool};
use crate::problem::{DatabaseFailure, Problem};

/// A handler's error: always a problem document.
#[derive(Debug)]
pub struct ApiError(pub Problem);

impl ApiError {
    /// The problem with extension member `key` set to `value`.
    pub fn with(self, key: &str, value: impl Into<Value>) -> Self {
        ApiError(self.0.with(key, value))
    }

    /// The answer to a failed database call, in `failure`'s words: 503 + Retry-After when
    /// `transient` ([`crate::db::is_transient`]), 500 otherwise.
    pub fn database(
        failure: &DatabaseFailure<'_>,
        cause: &dyn std::fmt::Display,
        transient: bool,
    ) -> Self {
        ApiError(failure.answer(cause, transient))
    }

    /// [`ApiError::database`] for a statement's error.
    pub fn query(failure: &DatabaseFailure<'_>, cause: &diesel::result::Error) -> Self {
        Self::database(failure, cause, is_transient(cause))
    }

    /// [`ApiError::database`] for failing to get a pooled connection.
    pub fn pool(
        failure: &DatabaseFailure<'_>,
        cause: &diesel_async::pooled_connection::deadpool::PoolError,
    ) -> Self {
        Self::database(failure, cause, is_transient_pool(cause))
    }

    /// [`ApiError::database`] for the platform's database errors.
    pub fn db(failure: &DatabaseFailure<'_>, cause: &DbError) -> Self {
        Self::database(failure, cause, cause.is_transient())
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

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> Self {
        ApiError(problem)
    }
}

/// 401: no credential, or one that is unknown, revoked or expired (`slug` says which when the
/// client can act on it).
pub fn unauthorized(slug: &str, detail: impl Into<String>) -> ApiError {
    ApiError(Problem::new(
        StatusCode::UNAUTHORIZED,
        slug,
        "Missing or invalid credentials",
        detail,
    ))
}

/// 400 of type `slug`.
pub fn bad_request(slug: &str, title: &str, detail: impl Into<String>) -> ApiError {
    ApiError(Problem::new(StatusCode::BAD_REQUEST, slug, title, detail))
}

/// 404 of type `not-found`.
pub fn not_found(detail: impl Into<String>) -> ApiError {
    ApiError(Problem::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        detail,
    ))
}

/// 500 of type `internal`: `detail` gives away no internals.
pub fn internal(detail: impl Into<String>) -> ApiError {
    ApiError(crate::problem::internal(detail))
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{CONTENT_TYPE, RETRY_AFTER};
    use diesel::result::{DatabaseErrorKind, Error};
    use diesel_async::pooled_connection::deadpool::PoolError;

    use super::*;

    const WORDS: DatabaseFailure<'static> = DatabaseFailure {
        unavailable: "down",
        internal: "broken",
    };

    fn answer(e: ApiError) -> (u16, Option<String>, String) {
        let response = e.error_response();
        assert_eq!(
            response.headers().get(CONTENT_TYPE).expect("header"),
            crate::problem::CONTENT_TYPE
        );
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .map(|v| v.to_str().expect("ascii").to_owned());
        (response.status().as_u16(), retry_after, e.0.problem_type)
    }

    /// Promise P8 through the platform's own list ([`crate::db::is_transient`]): only what it
    /// calls transient is a 503.
    #[test]
    fn only_a_transient_database_error_is_a_503() {
        let closed = Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection,
            Box::new("closed".to_owned()),
        );
        assert_eq!(
            answer(ApiError::query(&WORDS, &closed)),
            (
                503,
                Some("2".into()),
                "urn:taskflow:problem:unavailable".into()
            )
        );
        assert_eq!(
            answer(ApiError::pool(&WORDS, &PoolError::Closed)),
            (
                503,
                Some("2".into()),
                "urn:taskflow:problem:unavailable".into()
            )
        );
        let violated = Error::DatabaseError(
            DatabaseErrorKind::CheckViolation,
            Box::new("check".to_owned()),
        );
        for e in [
            ApiError::query(&WORDS, &violated),
            ApiError::query(&WORDS, &Error::NotFound),
            ApiError::pool(&WORDS, &PoolError::NoRuntimeSpecified),
            ApiError::db(&WORDS, &DbError::Migrate("bad".into())),
        ] {
            assert_eq!(
                answer(e),
                (500, None, "urn:taskflow:problem:internal".into())
            );
        }
    }

    #[test]
    fn shared_answers() {
        let e = unauthorized("token-expired", "old").with("hint", "renew");
        assert_eq!(e.0.status, 401);
        assert_eq!(e.0.title, "Missing or invalid credentials");
        assert_eq!(e.0.extensions["hint"], "renew");
        assert_eq!(
            not_found("none").0.problem_type,
            "urn:taskflow:problem:not-found"
        );
        assert_eq!(bad_request("x", "X", "y").0.status, 400);
        assert_eq!(internal("z").0.status, 500);
    }
}
