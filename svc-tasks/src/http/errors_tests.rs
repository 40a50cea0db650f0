//! Unit tests of `errors.rs`: which status, `Retry-After` and problem type each error becomes.

use actix_web::ResponseError;
use actix_web::http::header::{CONTENT_TYPE, RETRY_AFTER};
use diesel_async::pooled_connection::PoolError as ManagerError;
use diesel_async::pooled_connection::deadpool::PoolError;
use taskflow_platform::outbox::OutboxError;
use taskflow_platform::problem;
use taskflow_platform::testing::{permanent_db_errors, transient_db_errors};

use super::*;

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

/// Every error the platform calls transient (`taskflow_platform::db::is_transient`, its list in
/// `testing::transient_db_errors`) is a 503, wherever in svc-tasks it surfaces.
#[test]
fn only_transient_database_errors_are_retryable_503s() {
    let mut transient: Vec<ServiceError> = Vec::new();
    for e in transient_db_errors() {
        transient.push(ServiceError::Store(StoreError::Db(e)));
    }
    for e in transient_db_errors() {
        transient.push(ServiceError::Store(StoreError::Outbox(OutboxError::Db(e))));
    }
    transient.extend([
        ServiceError::from(PoolError::Closed),
        ServiceError::from(PoolError::Backend(ManagerError::ConnectionError(
            diesel::ConnectionError::BadConnection("connection refused".into()),
        ))),
    ]);
    for e in transient {
        let shown = e.to_string();
        assert_eq!(answer(e), unavailable(), "{shown}");
    }
}

/// Promise P8: a bug is a 500, never a 503 that clients would retry forever. The database's
/// side is the platform's list (`testing::permanent_db_errors`); svc-tasks adds its own.
#[test]
fn a_database_error_retrying_will_not_cure_is_a_500_without_retry_after() {
    let mut permanent: Vec<ServiceError> = permanent_db_errors()
        .into_iter()
        .map(|e| ServiceError::Store(StoreError::Db(e)))
        .collect();
    permanent.extend([
        ServiceError::Store(StoreError::Corrupt {
            what: "task stream",
            reason: "bad".into(),
        }),
        ServiceError::Store(StoreError::Outbox(OutboxError::Corrupt {
            id: 1,
            reason: "bad".into(),
        })),
        ServiceError::from(PoolError::NoRuntimeSpecified),
    ]);
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
