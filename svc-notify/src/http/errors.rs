//! Every error svc-notify answers, as RFC 9457 problem documents with stable slugs: its use
//! cases' errors mapped to statuses. The error type, the shared 401/400/404 answers and actix's
//! body, path and query refusals are the platform's (`taskflow_platform::http`); only the 422 of
//! a body is worded here ([`REJECTIONS`]).

use actix_web::http::StatusCode;
use taskflow_platform::http::Rejections;
pub use taskflow_platform::http::errors::{ApiError, bad_request, not_found, unauthorized};
use taskflow_platform::problem::{DatabaseFailure, Problem};

use crate::service::resume::ResumeError;
use crate::store::StoreError;

/// A JSON body that parsed but is not the request's shape (422); every other refusal of a body,
/// path or query is the platform's ([`Rejections`]).
pub const REJECTIONS: Rejections = Rejections {
    invalid_body: "invalid-body",
    invalid_body_title: "Invalid request body",
};

/// How svc-notify answers a failed database call: 503 + Retry-After when it is transient, 500
/// otherwise (the platform's `db::is_transient` decides).
const DATABASE: DatabaseFailure<'static> = DatabaseFailure {
    unavailable: "the notification database does not answer; retry shortly",
    internal: "the request failed inside svc-notify",
};

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::database(&DATABASE, &error, error.is_transient())
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
            .with("latest_seq", latest),
            ResumeError::Store(e) => e.into(),
        }
    }
}

/// 422 for a body that parsed but breaks a rule; `pointer` locates it (RFC 6901).
pub fn invalid_body(pointer: &str, detail: impl Into<String>) -> ApiError {
    ApiError(
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            REJECTIONS.invalid_body,
            REJECTIONS.invalid_body_title,
            detail,
        )
        .with("pointer", pointer),
    )
}

#[cfg(test)]
mod tests {
    use actix_web::ResponseError;
    use actix_web::http::header::{CONTENT_TYPE, RETRY_AFTER};
    use diesel_async::pooled_connection::deadpool::PoolError;
    use taskflow_platform::testing::{permanent_db_errors, transient_db_errors};

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

    /// Promise P8: a bug (an unreadable row, a violated constraint) is a 500, never a 503 that
    /// clients would retry forever. The database's side is the platform's list
    /// (`testing::permanent_db_errors`); svc-notify adds its own.
    #[test]
    fn a_database_error_retrying_will_not_cure_is_a_500_without_retry_after() {
        let mut permanent: Vec<StoreError> = permanent_db_errors()
            .into_iter()
            .map(StoreError::Query)
            .collect();
        permanent.extend([
            StoreError::Corrupt {
                what: "notification",
                reason: "bad kind".into(),
            },
            StoreError::Pool(PoolError::NoRuntimeSpecified),
        ]);
        for e in permanent {
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
        let mut transient: Vec<StoreError> = transient_db_errors()
            .into_iter()
            .map(StoreError::Query)
            .collect();
        transient.push(StoreError::Pool(PoolError::Closed));
        for e in transient {
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
