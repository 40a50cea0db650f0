//! Unit tests of `errors.rs`: which status, `Retry-After` and problem type each error becomes.

use actix_web::ResponseError;
use actix_web::http::header::{CONTENT_TYPE, RETRY_AFTER};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::pooled_connection::PoolError as ManagerError;
use diesel_async::pooled_connection::deadpool::PoolError;
use taskflow_platform::outbox::OutboxError;

use super::*;

fn db(kind: DatabaseErrorKind, message: &str) -> ServiceError {
    ServiceError::Store(StoreError::Db(DieselError::DatabaseError(
        kind,
        Box::new(message.to_owned()),
    )))
}

/// Status, `Retry-After` and problem type of the answer actix sends for `e`.
fn answer(e: ServiceError) -> (u16, Option<String>, String) {
    let response = ApiError::from(e).error_response();
    assert_eq!(
        response.headers().get(CONTENT_TYPE).expect("header"),
        problem::CONTENT_TYPE
    );
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .map(|v| v.to_str().expect("ascii").to_owned());
    let body = actix_web::body::MessageBody::try_into_bytes(response.into_body())
        .expect("a complete body");
    let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let slug = body["type"].as_str().expect("type").to_owned();
    (
        body["status"].as_u64().expect("status") as u16,
        retry_after,
        slug,
    )
}

fn unavailable() -> (u16, Option<String>, String) {
    (
        503,
        Some("2".into()),
        "urn:taskflow:problem:unavailable".into(),
    )
}

fn internal() -> (u16, Option<String>, String) {
    (500, None, "urn:taskflow:problem:internal".into())
}

#[test]
fn only_transient_database_errors_are_retryable_503s() {
    let transient = [
        db(DatabaseErrorKind::ClosedConnection, "connection closed"),
        db(
            DatabaseErrorKind::SerializationFailure,
            "could not serialize access due to concurrent update",
        ),
        db(
            DatabaseErrorKind::Unknown,
            "terminating connection due to administrator command",
        ),
        ServiceError::Store(StoreError::Db(DieselError::BrokenTransactionManager)),
        ServiceError::Store(StoreError::Outbox(OutboxError::Db(
            DieselError::BrokenTransactionManager,
        ))),
        ServiceError::from(PoolError::Closed),
        ServiceError::from(PoolError::Backend(ManagerError::ConnectionError(
            diesel::ConnectionError::BadConnection("connection refused".into()),
        ))),
        ServiceError::Unavailable("a projection rebuild is ending; retry".into()),
    ];
    for e in transient {
        let shown = e.to_string();
        assert_eq!(answer(e), unavailable(), "{shown}");
    }
}

/// Promise P8: a bug is a 500, never a 503 that clients would retry forever.
#[test]
fn a_database_error_retrying_will_not_cure_is_a_500_without_retry_after() {
    let permanent = [
        db(
            DatabaseErrorKind::Unknown,
            "invalid byte sequence for encoding \"UTF8\": 0x00",
        ),
        db(
            DatabaseErrorKind::Unknown,
            "syntax error at or near \"FORM\"",
        ),
        db(
            DatabaseErrorKind::CheckViolation,
            "new row violates check constraint",
        ),
        db(
            DatabaseErrorKind::UniqueViolation,
            "duplicate key value violates unique constraint",
        ),
        db(DatabaseErrorKind::NotNullViolation, "null value in column"),
        ServiceError::Store(StoreError::Db(DieselError::NotFound)),
        ServiceError::Store(StoreError::Db(DieselError::DeserializationError(
            "unexpected null for non-null column".into(),
        ))),
        ServiceError::Store(StoreError::Corrupt {
            what: "task stream",
            reason: "bad".into(),
        }),
        ServiceError::Store(StoreError::Outbox(OutboxError::Corrupt {
            id: 1,
            reason: "bad".into(),
        })),
        ServiceError::from(PoolError::NoRuntimeSpecified),
        ServiceError::RebuildInterrupted,
    ];
    for e in permanent {
        let shown = e.to_string();
        assert_eq!(answer(e), internal(), "{shown}");
    }
}

#[test]
fn batch_item_pointers_point_into_the_request_body() {
    let problem = problem_for(ServiceError::BatchItemRefused {
        index: 3,
        source: SubmissionRefused::Invalid(vec![PayloadProblem {
            pointer: "/labels/a".into(),
            message: "bad".into(),
        }]),
    });
    assert_eq!(
        problem.extensions["errors"][0]["pointer"],
        "/tasks/3/labels/a"
    );
    assert_eq!(problem.extensions["index"], 3);
    let problem = problem_for(ServiceError::Refused(SubmissionRefused::UnknownType {
        task_type: "x".into(),
        known: vec!["noop".into()],
    }));
    assert_eq!(problem.extensions["errors"][0]["pointer"], "/type");
}
