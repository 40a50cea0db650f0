//! Every error the API returns, as RFC 9457 problem details.

use actix_web::HttpRequest;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde_json::json;
use taskflow_platform::outbox::OutboxError;
use taskflow_platform::problem::Problem;

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

fn refused(e: SubmissionRefused) -> Problem {
    let detail = e.to_string();
    match e {
        SubmissionRefused::UnknownType { known, .. } => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown-task-type",
            "Unknown task type",
            detail,
        )
        .with("known_types", known),
        SubmissionRefused::PriorityNotAllowed { allowed, .. } => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "priority-not-allowed",
            "Priority not allowed for this tenant",
            detail,
        )
        .with("allowed_priorities", allowed),
        SubmissionRefused::Invalid(problems) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-submission",
            "The submission breaks the task type's rules",
            problems
                .iter()
                .map(|p| format!("{}: {}", p.pointer, p.message))
                .collect::<Vec<_>>()
                .join("; "),
        )
        .with("errors", json!(problems)),
    }
}

pub fn problem_for(e: ServiceError) -> Problem {
    let detail = e.to_string();
    match e {
        ServiceError::Refused(r) => refused(r),
        ServiceError::BatchItemRefused { index, source } => {
            let inner = refused(source);
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
        ServiceError::Store(StoreError::Db(db)) if is_transient(&db) => unavailable(detail),
        ServiceError::Store(StoreError::Outbox(OutboxError::Db(db))) if is_transient(&db) => {
            unavailable(detail)
        }
        ServiceError::Store(StoreError::Outbox(OutboxError::Pool(_))) => unavailable(detail),
        ServiceError::Store(_) => {
            tracing::error!(error = %detail, "request failed on a store error");
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "the request failed inside svc-tasks; nothing was recorded",
            )
        }
    }
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
        "the task database is unreachable; nothing was recorded, retry later",
    )
    .retry_after(2)
}

/// Errors that say the database went away rather than that the request was wrong.
fn is_transient(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(kind, _) => {
            matches!(
                kind,
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::SerializationFailure
            ) || !matches!(
                kind,
                DatabaseErrorKind::UniqueViolation
                    | DatabaseErrorKind::ForeignKeyViolation
                    | DatabaseErrorKind::NotNullViolation
                    | DatabaseErrorKind::CheckViolation
            )
        }
        DieselError::BrokenTransactionManager => true,
        _ => false,
    }
}

pub fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let problem = match &err {
        JsonPayloadError::OverflowKnownLength { length, limit } => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "Request body too large",
            format!("body of {length} bytes exceeds the limit of {limit} bytes"),
        )
        .with("limit_bytes", *limit),
        JsonPayloadError::Overflow { limit } => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "Request body too large",
            format!("body exceeds the limit of {limit} bytes"),
        )
        .with("limit_bytes", *limit),
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
