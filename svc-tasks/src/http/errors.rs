//! Every error the API returns, as RFC 9457 problem details.

use actix_web::HttpRequest;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use serde_json::json;
use taskflow_platform::problem::{self, DatabaseFailure, Problem};

use crate::domain::catalog::PayloadProblem;
use crate::domain::quota::QuotaRefusal;
use crate::domain::submission::SubmissionRefused;
use crate::service::ServiceError;
use crate::store::StoreError;

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        ApiError(problem_for(e))
    }
}

/// A handler's error: always a problem document.
#[derive(Debug)]
pub struct ApiError(pub Problem);

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl actix_web::ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }
    fn error_response(&self) -> actix_web::HttpResponse {
        self.0.error_response()
    }
}

impl From<Problem> for ApiError {
    fn from(p: Problem) -> Self {
        ApiError(p)
    }
}

/// A refused submission; `at` is where the submission sits in the request body (`""` for
/// `POST /v1/tasks`, `/tasks/{index}` for a batch item), so every `errors[].pointer` is a JSON
/// pointer into the request body.
fn refused(e: SubmissionRefused, at: &str) -> Problem {
    let detail = e.to_string();
    let located = |pointer: &str, message: String| json!([{"pointer": format!("{at}{pointer}"), "message": message}]);
    match e {
        SubmissionRefused::UnknownType { known, .. } => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown-task-type",
            "Unknown task type",
            detail.clone(),
        )
        .with("known_types", known)
        .with("errors", located("/type", detail)),
        SubmissionRefused::PriorityNotAllowed { allowed, .. } => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "priority-not-allowed",
            "Priority not allowed for this tenant",
            detail.clone(),
        )
        .with("allowed_priorities", allowed)
        .with("errors", located("/priority", detail)),
        SubmissionRefused::Invalid(problems) => {
            let problems: Vec<PayloadProblem> = problems
                .into_iter()
                .map(|p| PayloadProblem {
                    pointer: format!("{at}{}", p.pointer),
                    message: p.message,
                })
                .collect();
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-submission",
                "The submission breaks the task type's rules",
                problems
                    .iter()
                    .map(|p| format!("{}: {}", p.pointer.escape_default(), p.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
            .with("errors", json!(problems))
        }
    }
}

pub fn problem_for(e: ServiceError) -> Problem {
    let detail = e.to_string();
    match e {
        ServiceError::Refused(r) => refused(r, ""),
        ServiceError::BatchItemRefused { index, source } => {
            let inner = refused(source, &format!("/tasks/{index}"));
            Problem {
                detail: format!("item {index}: {}", inner.detail),
                ..inner
            }
            .with("index", index)
        }
        ServiceError::Quota(q) => quota(q),
        ServiceError::KeyInFlight(_) => Problem::new(
            StatusCode::CONFLICT,
            "idempotency-key-in-flight",
            "A request with this Idempotency-Key is in flight",
            detail,
        )
        .retry_after(1),
        ServiceError::KeyReused(_) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "Idempotency-Key reused with a different request",
            detail,
        ),
        ServiceError::TaskNotFound => {
            not_found("task", "No task with this id exists for your tenant")
        }
        ServiceError::TenantNotFound => not_found("tenant", "No tenant with this id exists"),
        ServiceError::KeyNotFound => not_found(
            "api-key",
            "No active key with this id exists for this tenant",
        ),
        ServiceError::RebuildNotFound => {
            not_found("rebuild-job", "No projection rebuild with this id exists")
        }
        ServiceError::CancelRefused(_) => Problem::new(
            StatusCode::CONFLICT,
            "task-already-finished",
            "The task has already ended",
            detail,
        ),
        ServiceError::Unavailable(_) => unavailable(detail),
        ServiceError::Store(StoreError::Conflict { .. }) => Problem::new(
            StatusCode::CONFLICT,
            "concurrent-modification",
            "The task changed while this request ran; retry",
            detail,
        )
        .retry_after(1),
        ServiceError::Store(StoreError::NameTaken(_)) => Problem::new(
            StatusCode::CONFLICT,
            "tenant-name-taken",
            "A tenant with this name exists",
            detail,
        ),
        ServiceError::Store(store) => DATABASE.answer(&store, store.is_transient()),
        ServiceError::RebuildInterrupted => {
            tracing::error!(error = %detail, "request failed inside svc-tasks");
            problem::internal(DATABASE.internal)
        }
    }
}

/// How svc-tasks answers a failed database call: 503 + Retry-After when it is transient, 500
/// otherwise (the platform's `db::is_transient` decides).
const DATABASE: DatabaseFailure<'static> = DatabaseFailure {
    unavailable: "the task database cannot serve this request now; nothing was recorded, retry later",
    internal: "the request failed inside svc-tasks; nothing was recorded",
};

fn quota(q: QuotaRefusal) -> Problem {
    let retry_after = q.retry_after_secs();
    Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "quota-exceeded",
        "Tenant quota exceeded",
        q.to_string(),
    )
    .with("reason", q.reason())
    .retry_after(retry_after)
}

fn not_found(what: &str, detail: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        &format!("{what}-not-found"),
        "Not found",
        detail,
    )
}

fn unavailable(detail: String) -> Problem {
    DATABASE.answer(&detail, true)
}

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

#[cfg(test)]
mod tests {
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
}
