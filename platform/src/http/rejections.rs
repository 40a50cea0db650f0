//! Requests refused before a handler runs — a JSON body that is too large (413), not JSON (415),
//! unreadable or malformed (400) or not what the operation takes (422), a path parameter that
//! names nothing (404), a bad query string (400) — and bodies a handler reads itself, as
//! problem documents every service words alike. Only the 422's type and title are a service's
//! own ([`Rejections`]): svc-scheduler calls such a body an invalid schedule.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};

use super::errors::{ApiError, not_found};
use crate::problem::Problem;

/// A service's words for a JSON body that parsed but is not what the operation takes.
#[derive(Debug, Clone, Copy)]
pub struct Rejections {
    /// The 422's problem type (slug).
    pub invalid_body: &'static str,
    /// The 422's title.
    pub invalid_body_title: &'static str,
}

impl Rejections {
    /// Installs the JSON body limit and the answers to JSON, path and query refusals.
    pub fn configure(self, cfg: &mut web::ServiceConfig, json_limit: usize) {
        cfg.app_data(
            web::JsonConfig::default()
                .limit(json_limit)
                .error_handler(move |err, _| ApiError(self.json(&err)).into()),
        )
        .app_data(web::PathConfig::default().error_handler(path_error))
        .app_data(web::QueryConfig::default().error_handler(query_error));
    }

    /// The answer to a JSON body actix could not take.
    pub fn json(&self, err: &JsonPayloadError) -> Problem {
        match err {
            JsonPayloadError::OverflowKnownLength { length, limit } => Problem {
                detail: format!("body of {length} bytes exceeds the limit of {limit} bytes"),
                ..body_too_large(*limit)
            },
            JsonPayloadError::Overflow { limit } => body_too_large(*limit),
            JsonPayloadError::ContentType => {
                unsupported_media_type("send Content-Type: application/json")
            }
            JsonPayloadError::Deserialize(e) => self.body(e),
            other => unreadable_body(other.to_string()),
        }
    }

    /// A body that is not JSON (400 `malformed-json`) or not the expected fields (422).
    pub fn body(&self, e: &serde_json::Error) -> Problem {
        if e.is_data() {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                self.invalid_body,
                self.invalid_body_title,
                e.to_string(),
            )
        } else {
            malformed_json(e.to_string())
        }
    }
}

/// 413 for a body over `limit` bytes (`limit_bytes` says the limit).
pub fn body_too_large(limit: usize) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body-too-large",
        "Request body too large",
        format!("body exceeds the limit of {limit} bytes"),
    )
    .with("limit_bytes", limit)
}

/// 415: the body is not declared JSON.
pub fn unsupported_media_type(detail: impl Into<String>) -> Problem {
    Problem::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        "Unsupported media type",
        detail,
    )
}

/// 400: the body is not valid JSON.
pub fn malformed_json(detail: impl Into<String>) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "malformed-json",
        "Malformed JSON",
        detail,
    )
}

/// 400: the body could not be read at all (broken off, bad encoding).
pub fn unreadable_body(detail: impl Into<String>) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "unreadable-body",
        "Body could not be read",
        detail,
    )
}

/// 400: a query parameter is missing, unknown or not of its type.
pub fn invalid_query(detail: impl Into<String>) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid-query",
        "Invalid query parameter",
        detail,
    )
}

/// `PathConfig`'s error handler: a path parameter that does not parse names no resource.
pub fn path_error(err: PathError, _: &HttpRequest) -> actix_web::Error {
    not_found(format!("no such resource: {err}")).into()
}

/// `QueryConfig`'s error handler.
pub fn query_error(err: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError(invalid_query(err.to_string())).into()
}

#[cfg(test)]
mod tests {
    use actix_web::test::{TestRequest, call_service, init_service, read_body_json};
    use actix_web::{App, HttpResponse};
    use serde::Deserialize;
    use serde_json::Value;

    use super::*;

    const WORDS: Rejections = Rejections {
        invalid_body: "invalid-thing",
        invalid_body_title: "Invalid thing",
    };

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        n: u8,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Query {
        n: u8,
    }

    async fn answer(req: TestRequest) -> (u16, String, Value) {
        let app = init_service(
            App::new()
                .configure(|cfg| WORDS.configure(cfg, 16))
                .route(
                    "/body",
                    web::post().to(|_: web::Json<Body>| async { HttpResponse::Ok().finish() }),
                )
                .route(
                    "/query",
                    web::get().to(|_: web::Query<Query>| async { HttpResponse::Ok().finish() }),
                )
                .route(
                    "/path/{n}",
                    web::get().to(|_: web::Path<u8>| async { HttpResponse::Ok().finish() }),
                ),
        )
        .await;
        let res = call_service(&app, req.to_request()).await;
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .map(|v| v.to_str().expect("ascii").to_owned())
            .unwrap_or_default();
        assert_eq!(content_type, crate::problem::CONTENT_TYPE);
        let body: Value = read_body_json(res).await;
        let slug = body["type"]
            .as_str()
            .expect("type")
            .trim_start_matches("urn:taskflow:problem:")
            .to_owned();
        (status, slug, body)
    }

    fn json_post(body: &'static str) -> TestRequest {
        TestRequest::post()
            .uri("/body")
            .insert_header(("content-type", "application/json"))
            .set_payload(body)
    }

    #[actix_web::test]
    async fn every_refusal_is_a_problem_with_its_type() {
        let (status, slug, body) = answer(json_post("{\"n\": 1, \"padding\": \"xxxxxx\"}")).await;
        assert_eq!((status, slug.as_str()), (413, "body-too-large"));
        assert_eq!(body["limit_bytes"], 16);

        let plain = TestRequest::post()
            .uri("/body")
            .insert_header(("content-type", "text/plain"))
            .set_payload("{}");
        let (status, slug, _) = answer(plain).await;
        assert_eq!((status, slug.as_str()), (415, "unsupported-media-type"));

        let (status, slug, _) = answer(json_post("{\"n\": ")).await;
        assert_eq!((status, slug.as_str()), (400, "malformed-json"));

        let (status, slug, body) = answer(json_post("{\"n\": 300}")).await;
        assert_eq!((status, slug.as_str()), (422, "invalid-thing"));
        assert_eq!(body["title"], "Invalid thing");

        let (status, slug, _) = answer(TestRequest::get().uri("/query?n=x")).await;
        assert_eq!((status, slug.as_str()), (400, "invalid-query"));

        let (status, slug, _) = answer(TestRequest::get().uri("/path/x")).await;
        assert_eq!((status, slug.as_str()), (404, "not-found"));
    }
}
