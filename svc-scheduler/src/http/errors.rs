//! Every error svc-scheduler answers, as RFC 9457 problem documents with stable slugs: the use
//! cases' errors mapped to statuses. The error type, the credentials' 401 and actix's body, path
//! and query refusals are the platform's (`taskflow_platform::http`); only the 422 of a body is
//! worded here ([`REJECTIONS`]).

use actix_web::http::StatusCode;
use taskflow_platform::http::Rejections;
pub use taskflow_platform::http::errors::{ApiError, bad_request, not_found};
use taskflow_platform::problem::{DatabaseFailure, Problem};

use crate::domain::template::TemplateProblem;
use crate::service::ServiceError;
use crate::store::StoreError;

/// A JSON body that parsed but is not a schedule's shape is an invalid schedule (422); every
/// other refusal of a body, path or query is the platform's ([`Rejections`]).
pub const REJECTIONS: Rejections = Rejections {
    invalid_body: "invalid-schedule",
    invalid_body_title: "Invalid schedule",
};

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NameTaken(name) => ApiError(Problem::new(
                StatusCode::CONFLICT,
                "schedule-name-taken",
                "Schedule name taken",
                format!("this tenant has a schedule named {name:?} already"),
            )),
            other => ApiError(DATABASE.answer(&other, other.is_transient())),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::NotFound(id) => not_found(format!("no schedule {id}")),
            ServiceError::Invalid(problems) => invalid(problems),
            ServiceError::Undecodable(detail) => ApiError(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-schedule",
                "Invalid schedule",
                detail,
            )),
            unreadable @ ServiceError::Unreadable { .. } => ApiError(Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                unreadable.to_string(),
            )),
            ServiceError::Store(e) => e.into(),
        }
    }
}

/// How svc-scheduler answers a failed database call: 503 + Retry-After when it is transient,
/// 500 otherwise (the platform's `db::is_transient` decides).
pub const DATABASE: DatabaseFailure<'static> = DatabaseFailure {
    unavailable: "the scheduler database does not answer; retry shortly",
    internal: "the request failed inside svc-scheduler; nothing was recorded",
};

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

#[cfg(test)]
mod tests {
    use actix_web::ResponseError;
    use actix_web::http::header::{CONTENT_TYPE, RETRY_AFTER};
    use diesel::result::{DatabaseErrorKind, Error as DieselError};
    use diesel_async::pooled_connection::deadpool::PoolError;
    use taskflow_platform::outbox::OutboxError;

    use super::*;

    /// Status, `Retry-After` and problem type of the answer actix sends for `e`.
    fn answer(e: impl Into<ApiError>) -> (StatusCode, Option<String>, String) {
        let response = e.into().error_response();
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

    fn db(kind: DatabaseErrorKind, message: &str) -> DieselError {
        DieselError::DatabaseError(kind, Box::new(message.to_owned()))
    }

    fn query(e: DieselError) -> StoreError {
        StoreError::Query(e)
    }

    fn internal() -> (StatusCode, Option<String>, String) {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "urn:taskflow:problem:internal".into(),
        )
    }

    fn unavailable() -> (StatusCode, Option<String>, String) {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("2".into()),
            "urn:taskflow:problem:unavailable".into(),
        )
    }

    /// Promise P8: a bug is a 500, never a 503 that clients would retry forever (the platform's
    /// list of such database errors, `testing::permanent_db_errors`, then svc-scheduler's own
    /// cases). Only a taken name has an answer of its own.
    #[test]
    fn a_database_error_retrying_will_not_cure_is_a_500_without_retry_after() {
        for e in taskflow_platform::testing::permanent_db_errors() {
            let shown = e.to_string();
            assert_eq!(answer(query(e)), internal(), "{shown}");
        }
        assert_eq!(
            answer(query(DieselError::DeserializationError(
                "unexpected null".into()
            ))),
            internal()
        );
        assert_eq!(
            answer(query(db(
                DatabaseErrorKind::CheckViolation,
                "new row violates check constraint"
            ))),
            internal()
        );
        // A unique violation the store did not turn into a taken name.
        assert_eq!(
            answer(query(db(
                DatabaseErrorKind::UniqueViolation,
                "duplicate key value violates unique constraint \"occurrences_pkey\""
            ))),
            internal()
        );
        assert_eq!(
            answer(StoreError::Outbox(OutboxError::Body(
                serde_json::from_str::<serde_json::Value>("{").expect_err("not json")
            ))),
            internal()
        );
        assert_eq!(
            answer(StoreError::Pool(PoolError::NoRuntimeSpecified)),
            internal()
        );
        assert_eq!(
            answer(StoreError::NameTaken("nightly".into())).0,
            StatusCode::CONFLICT
        );
    }

    #[test]
    fn a_transient_database_error_is_a_503_with_retry_after() {
        for e in taskflow_platform::testing::transient_db_errors() {
            let shown = e.to_string();
            assert_eq!(answer(query(e)), unavailable(), "{shown}");
        }
        assert_eq!(
            answer(query(DieselError::BrokenTransactionManager)),
            unavailable()
        );
        assert_eq!(
            answer(query(db(
                DatabaseErrorKind::SerializationFailure,
                "could not serialize"
            ))),
            unavailable()
        );
        assert_eq!(answer(StoreError::Pool(PoolError::Closed)), unavailable());
        assert_eq!(
            answer(StoreError::Outbox(OutboxError::Db(db(
                DatabaseErrorKind::UnableToSendCommand,
                "connection reset"
            )))),
            unavailable()
        );
    }

    /// The use cases' refusals keep the answers the handlers gave them before `service/`.
    #[test]
    fn a_use_case_error_keeps_its_status_and_problem_type() {
        let id = uuid::Uuid::nil();
        assert_eq!(
            answer(ServiceError::NotFound(id)),
            (
                StatusCode::NOT_FOUND,
                None,
                "urn:taskflow:problem:not-found".into()
            )
        );
        let invalid_schedule = (
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            "urn:taskflow:problem:invalid-schedule".into(),
        );
        assert_eq!(
            answer(ServiceError::invalid("/note", "too long")),
            invalid_schedule
        );
        assert_eq!(
            answer(ServiceError::Undecodable("invalid type".into())),
            invalid_schedule
        );
        assert_eq!(
            answer(ServiceError::Unreadable {
                id,
                reason: "/spec: unknown kind".into()
            }),
            internal()
        );
        assert_eq!(
            answer(ServiceError::Store(StoreError::Pool(PoolError::Closed))),
            unavailable()
        );
        let body = |e: ServiceError| serde_json::to_value(ApiError::from(e).0).expect("json");
        let invalid = body(ServiceError::invalid("/note", "too long"));
        assert_eq!(invalid["problems"][0]["pointer"], "/note");
        assert_eq!(invalid["detail"], "/note: too long");
        assert_eq!(
            body(ServiceError::NotFound(id))["detail"],
            format!("no schedule {id}")
        );
        assert_eq!(
            body(ServiceError::Unreadable {
                id,
                reason: "/spec: unknown kind".into()
            })["detail"],
            format!("stored schedule {id} is unreadable: /spec: unknown kind")
        );
    }
}
