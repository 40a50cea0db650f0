//! Every error svc-scheduler answers, as RFC 9457 problem documents with stable slugs: the use
//! cases' errors mapped to statuses, and actix's body, path and query errors.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use taskflow_platform::problem::{DatabaseFailure, Problem};

use crate::domain::template::TemplateProblem;
use crate::service::ServiceError;
use crate::store::StoreError;

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
const DATABASE: DatabaseFailure<'static> = DatabaseFailure {
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

#[cfg(test)]
mod tests {
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

    /// Promise P8: a bug is a 500, never a 503 that clients would retry forever. Only a taken
    /// name has an answer of its own.
    #[test]
    fn a_database_error_retrying_will_not_cure_is_a_500_without_retry_after() {
        assert_eq!(
            answer(DieselError::DeserializationError("unexpected null".into())),
            internal()
        );
        assert_eq!(
            answer(db(
                DatabaseErrorKind::CheckViolation,
                "new row violates check constraint"
            )),
            internal()
        );
        // A unique violation the store did not turn into a taken name.
        assert_eq!(
            answer(db(
                DatabaseErrorKind::UniqueViolation,
                "duplicate key value violates unique constraint \"occurrences_pkey\""
            )),
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
        assert_eq!(answer(DieselError::BrokenTransactionManager), unavailable());
        assert_eq!(
            answer(db(
                DatabaseErrorKind::SerializationFailure,
                "could not serialize"
            )),
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
