//! Every error the API returns, as RFC 9457 problem details: the use cases' errors mapped to
//! statuses. The error type and actix's body, path and query refusals are the platform's
//! (`taskflow_platform::http`); only the 422 of a body is worded here ([`REJECTIONS`]).

use actix_web::http::StatusCode;
use serde_json::json;
use taskflow_platform::http::Rejections;
pub use taskflow_platform::http::errors::ApiError;
use taskflow_platform::problem::{DatabaseFailure, Problem};

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

/// A JSON body that parsed but does not have the expected fields (422); every other refusal of
/// a body, path or query is the platform's ([`Rejections`]).
pub const REJECTIONS: Rejections = Rejections {
    invalid_body: "invalid-body",
    invalid_body_title: "Body does not have the expected fields",
};

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
        ServiceError::CancelRefused(_) => Problem::new(
            StatusCode::CONFLICT,
            "task-already-finished",
            "The task has already ended",
            detail,
        ),
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

#[cfg(test)]
#[path = "errors_tests.rs"]
mod tests;
