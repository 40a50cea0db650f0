//! The last line of "every error is a problem document": a middleware that turns any error
//! response that is not yet `application/problem+json` (actix's own, e.g. a payload error in an
//! extractor or a CORS refusal) into one, keeping its status and headers. Each service names
//! the problem types of such answers its own way (`slug`).

use actix_web::ResponseError;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};

use crate::problem::{self, Problem};

/// Problem types by meaning: `bad-request`, `not-found`, `internal`, `unavailable`, ...;
/// `http-<status>` for the rest.
pub fn named_slug(status: StatusCode) -> String {
    match status {
        StatusCode::BAD_REQUEST => "bad-request".into(),
        StatusCode::NOT_FOUND => "not-found".into(),
        StatusCode::METHOD_NOT_ALLOWED => "method-not-allowed".into(),
        StatusCode::PAYLOAD_TOO_LARGE => "body-too-large".into(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported-media-type".into(),
        StatusCode::INTERNAL_SERVER_ERROR => "internal".into(),
        StatusCode::SERVICE_UNAVAILABLE => "unavailable".into(),
        other => status_slug(other),
    }
}

/// Problem types by number: `http-<status>`.
pub fn status_slug(status: StatusCode) -> String {
    format!("http-{}", status.as_u16())
}

/// Call from a function given to `App::wrap_fn`, inside the correlation middleware (and
/// outside CORS, whose body type it boxes).
pub fn middleware<S, B>(
    req: ServiceRequest,
    service: &S,
    slug: fn(StatusCode) -> String,
) -> impl std::future::Future<Output = Result<ServiceResponse, actix_web::Error>> + use<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    let response = service.call(req);
    async move {
        let response = response.await?.map_into_boxed_body();
        let status = response.status();
        let is_problem = response
            .headers()
            .get(CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes() == problem::CONTENT_TYPE.as_bytes());
        if !(status.is_client_error() || status.is_server_error()) || is_problem {
            return Ok(response);
        }
        let (req, res) = response.into_parts();
        let title = status.canonical_reason().unwrap_or("Error");
        let detail = res
            .error()
            .map(ToString::to_string)
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| title.to_owned());
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), %detail, "error answered outside the handlers");
        }
        let mut replaced = Problem::new(status, &slug(status), title, detail).error_response();
        for (name, value) in res.headers() {
            if name != CONTENT_TYPE && name != CONTENT_LENGTH {
                replaced.headers_mut().append(name.clone(), value.clone());
            }
        }
        Ok(ServiceResponse::new(req, replaced))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header;
    use actix_web::test::{TestRequest, call_service, init_service, read_body, read_body_json};
    use actix_web::{App, HttpResponse, web};

    use super::*;

    #[actix_web::test]
    async fn a_plain_error_becomes_a_problem_keeping_status_and_headers() {
        let app = init_service(
            App::new()
                .wrap_fn(|req, srv| middleware(req, srv, named_slug))
                .route(
                    "/plain",
                    web::get().to(|| async {
                        HttpResponse::BadRequest()
                            .insert_header(("x-kept", "yes"))
                            .body("no")
                    }),
                )
                .route(
                    "/problem",
                    web::get().to(|| async { problem::internal("inside").error_response() }),
                )
                .route("/ok", web::get().to(|| async { "fine" })),
        )
        .await;

        let res = call_service(&app, TestRequest::get().uri("/plain").to_request()).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            res.headers().get(header::CONTENT_TYPE).expect("header"),
            problem::CONTENT_TYPE
        );
        assert_eq!(res.headers().get("x-kept").expect("header"), "yes");
        let body: serde_json::Value = read_body_json(res).await;
        assert_eq!(body["type"], "urn:taskflow:problem:bad-request");

        let res = call_service(&app, TestRequest::get().uri("/problem").to_request()).await;
        let body: serde_json::Value = read_body_json(res).await;
        assert_eq!(body["detail"], "inside", "a problem passes untouched");

        let res = call_service(&app, TestRequest::get().uri("/ok").to_request()).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(read_body(res).await, "fine");
    }

    #[test]
    fn slugs() {
        assert_eq!(named_slug(StatusCode::PAYLOAD_TOO_LARGE), "body-too-large");
        assert_eq!(named_slug(StatusCode::CONFLICT), "http-409");
        assert_eq!(status_slug(StatusCode::BAD_REQUEST), "http-400");
    }
}
