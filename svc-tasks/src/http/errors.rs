//! Every error the API returns, as RFC 9457 problem details.

use actix_web::HttpRequest;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde_json::json;
use taskflow_platform::outbox::OutboxError;
use taskflow_platform::problem::Problem;

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
        ServiceError::Store(StoreError::Db(db)) if is_unavailable(&db) => unavailable(detail),
        ServiceError::Store(StoreError::Outbox(OutboxError::Db(db))) if is_unavailable(&db) => {
            unavailable(detail)
        }
        ServiceError::Store(StoreError::Outbox(OutboxError::Pool(_))) => unavailable(detail),
        ServiceError::Store(_) | ServiceError::RebuildInterrupted => internal(&detail),
    }
}

/// 500: a failure that retrying will not cure. Logged with its cause; the client gets no
/// internals and no Retry-After.
pub fn internal(cause: &str) -> Problem {
    tracing::error!(error = %cause, "request failed inside svc-tasks");
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal error",
        "the request failed inside svc-tasks; nothing was recorded",
    )
}

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
    tracing::warn!(error = %detail, "database unavailable");
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "Temporarily unavailable",
        "the task database cannot serve this request now; nothing was recorded, retry later",
    )
    .retry_after(2)
}

/// PostgreSQL messages (the cluster runs with English messages, `lc_messages` C) of errors that
/// diesel reports as `Unknown` but that say the server cannot serve right now rather than that
/// the request is wrong: SQLSTATE 57P01/57P02/57P05/25P03 (the server ended the session:
/// administrator command, crash of another backend, idle timeouts), 57P03 (starting up,
/// shutting down, in recovery), 53300 (too many connections), 53200/53100 (out of memory, disk
/// full), 40P01 (deadlock: retrying succeeds), 57014 (statement cancelled: timeout, operator,
/// conflict with recovery on a standby).
const UNAVAILABLE_MESSAGES: [&str; 9] = [
    "terminating connection",
    "the database system is",
    "sorry, too many clients",
    "remaining connection slots are reserved",
    "out of memory",
    "could not extend file",
    "deadlock detected",
    "canceling statement due to",
    "could not connect",
];

/// Whether a database error says the database is (for now) unable to serve, so the same request
/// may succeed later: 503 with Retry-After. Everything else is a 500 that retrying would not
/// cure: a value the database refuses (e.g. 22021, 22P05: NUL in text or jsonb, which
/// validation should have caught), a constraint violation that slipped past the domain rules,
/// a bug in a statement.
///
/// diesel's kinds for PostgreSQL (through diesel-async/tokio-postgres):
/// - `ClosedConnection`, `UnableToSendCommand`: no SQLSTATE at all, i.e. the connection broke
///   under the query (I/O error, server gone, socket closed) -> unavailable;
/// - `SerializationFailure` (40001): lost a race with a concurrent transaction -> retryable;
/// - `ReadOnlyTransaction` (25006): the server is a read-only standby, e.g. mid-failover;
/// - `UniqueViolation`, `ForeignKeyViolation`, `NotNullViolation`, `CheckViolation`,
///   `RestrictViolation`, `ExclusionViolation`: the request (or our code) is wrong -> 500;
/// - `Unknown`: every other SQLSTATE; only the messages above mean unavailable.
pub fn is_unavailable(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(kind, info) => match kind {
            DatabaseErrorKind::ClosedConnection
            | DatabaseErrorKind::UnableToSendCommand
            | DatabaseErrorKind::SerializationFailure
            | DatabaseErrorKind::ReadOnlyTransaction => true,
            DatabaseErrorKind::UniqueViolation
            | DatabaseErrorKind::ForeignKeyViolation
            | DatabaseErrorKind::NotNullViolation
            | DatabaseErrorKind::CheckViolation
            | DatabaseErrorKind::RestrictViolation
            | DatabaseErrorKind::ExclusionViolation => false,
            _ => {
                let message = info.message();
                UNAVAILABLE_MESSAGES.iter().any(|m| message.contains(m))
            }
        },
        // A transaction whose connection broke mid-way (rollback failed).
        DieselError::BrokenTransactionManager => true,
        _ => false,
    }
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
    use super::*;

    fn db(kind: DatabaseErrorKind, message: &str) -> ServiceError {
        ServiceError::Store(StoreError::Db(DieselError::DatabaseError(
            kind,
            Box::new(message.to_owned()),
        )))
    }

    fn status_and_retry(e: ServiceError) -> (u16, Option<u64>) {
        let p = problem_for(e);
        (p.status, p.retry_after_secs)
    }

    #[test]
    fn only_availability_errors_are_retryable_503s() {
        let unavailable = [
            db(DatabaseErrorKind::ClosedConnection, "connection closed"),
            db(
                DatabaseErrorKind::UnableToSendCommand,
                "error communicating with the server",
            ),
            db(
                DatabaseErrorKind::SerializationFailure,
                "could not serialize access due to concurrent update",
            ),
            db(
                DatabaseErrorKind::ReadOnlyTransaction,
                "cannot execute INSERT in a read-only transaction",
            ),
            db(
                DatabaseErrorKind::Unknown,
                "terminating connection due to administrator command",
            ),
            db(
                DatabaseErrorKind::Unknown,
                "the database system is shutting down",
            ),
            db(DatabaseErrorKind::Unknown, "deadlock detected"),
            ServiceError::Store(StoreError::Db(DieselError::BrokenTransactionManager)),
            ServiceError::Unavailable("pool timed out".into()),
        ];
        for e in unavailable {
            let shown = e.to_string();
            assert_eq!(status_and_retry(e), (503, Some(2)), "{shown}");
        }
        let internal = [
            db(
                DatabaseErrorKind::Unknown,
                "invalid byte sequence for encoding \"UTF8\": 0x00",
            ),
            db(
                DatabaseErrorKind::Unknown,
                "unsupported Unicode escape sequence",
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
            db(
                DatabaseErrorKind::ForeignKeyViolation,
                "violates foreign key",
            ),
            ServiceError::Store(StoreError::Db(DieselError::NotFound)),
            ServiceError::Store(StoreError::Corrupt {
                what: "task stream",
                reason: "bad".into(),
            }),
        ];
        for e in internal {
            let shown = e.to_string();
            assert_eq!(status_and_retry(e), (500, None), "{shown}");
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
