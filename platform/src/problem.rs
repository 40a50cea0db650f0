//! RFC 9457 problem details (`application/problem+json`) for every HTTP error.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{Map, Value};

pub const CONTENT_TYPE: &str = "application/problem+json";

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// `urn:taskflow:problem:<slug>`; the slug is stable and machine-readable.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(flatten)]
    pub extensions: Map<String, Value>,
    #[serde(skip)]
    pub retry_after_secs: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            problem_type: format!("urn:taskflow:problem:{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            extensions: Map::new(),
            retry_after_secs: None,
        }
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(key.to_owned(), value.into());
        self
    }

    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self.with("retry_after_secs", secs)
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.title, self.status, self.detail)
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        Problem::status_code(self)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(Problem::status_code(self));
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE)));
        if let Some(secs) = self.retry_after_secs {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        response.json(self)
    }
}

/// Seconds a 503 asks the client to wait before retrying (`Retry-After`).
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 2;

/// 503 + `Retry-After`: a dependency (the database) cannot serve now; the same request may
/// succeed later. `detail` says which, and that nothing was done.
pub fn unavailable(detail: impl Into<String>) -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "Temporarily unavailable",
        detail,
    )
    .retry_after(UNAVAILABLE_RETRY_AFTER_SECS)
}

/// 500: a failure retrying will not cure (a bug, data we cannot read). No `Retry-After`, and
/// `detail` gives away no internals; the cause goes to the log.
pub fn internal(detail: impl Into<String>) -> Problem {
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal error",
        detail,
    )
}

/// How a service answers a failed database call, in its own words: 503 for a transient failure
/// ([`crate::db::is_transient`]), 500 for any other (promise P8: a bug is never a 503).
#[derive(Debug, Clone, Copy)]
pub struct DatabaseFailure<'a> {
    /// The 503's detail.
    pub unavailable: &'a str,
    /// The 500's detail.
    pub internal: &'a str,
}

impl DatabaseFailure<'_> {
    /// The problem for `cause`, which is logged (a warning when transient, an error otherwise).
    pub fn answer(&self, cause: &dyn std::fmt::Display, transient: bool) -> Problem {
        if transient {
            tracing::warn!(error = %cause, "database unavailable");
            unavailable(self.unavailable)
        } else {
            tracing::error!(error = %cause, "request failed on a database error that retrying will not cure");
            internal(self.internal)
        }
    }
}

/// The answer of a service's default route: 405 with `Allow` (and `allowed_methods` in the
/// problem) when `allow` lists the methods of a known path, 404 with `not_found` otherwise.
pub fn no_route(
    method: &actix_web::http::Method,
    path: &str,
    allow: Option<&str>,
    not_found: &str,
) -> HttpResponse {
    let Some(allow) = allow else {
        return Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", not_found)
            .error_response();
    };
    let mut response = Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        format!("{method} {path} is not supported; allowed: {allow}"),
    )
    .with("allowed_methods", allow)
    .error_response();
    if let Ok(value) = HeaderValue::from_str(allow) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWERS: DatabaseFailure<'static> = DatabaseFailure {
        unavailable: "down",
        internal: "broken",
    };

    #[test]
    fn a_transient_failure_is_a_503_with_retry_after_and_any_other_a_plain_500() {
        let response = ANSWERS.answer(&"lost connection", true).error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers().get(header::RETRY_AFTER).expect("header"),
            "2"
        );
        assert_eq!(
            response
                .headers()
                .get(header::CONTENT_TYPE)
                .expect("header"),
            CONTENT_TYPE
        );

        let problem = ANSWERS.answer(&"corrupt row", false);
        assert_eq!(problem.problem_type, "urn:taskflow:problem:internal");
        assert_eq!(problem.detail, "broken");
        let response = problem.error_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!response.headers().contains_key(header::RETRY_AFTER));
        assert_eq!(
            response
                .headers()
                .get(header::CONTENT_TYPE)
                .expect("header"),
            CONTENT_TYPE
        );
    }
}
