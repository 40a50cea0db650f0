//! The last line of "every error is a problem document": answers for paths and methods no
//! route serves (404, and 405 with `Allow`), and a middleware that turns any error response
//! that is not yet `application/problem+json` (actix's own, e.g. a payload error in an
//! extractor) into one, keeping its status and headers.

use std::sync::OnceLock;

use actix_web::body::MessageBody;
use actix_web::dev::{ResourceDef, Service, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use taskflow_platform::problem::{self, Problem};

use super::docs;

/// Route templates with the `Allow` value of their methods.
fn routes() -> &'static [(ResourceDef, String)] {
    static ROUTES: OnceLock<Vec<(ResourceDef, String)>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        docs::routes()
            .iter()
            .map(|(path, methods)| (ResourceDef::new(path.as_str()), methods.join(", ")))
            .collect()
    })
}

/// The methods `path` supports (`Allow`), if some route has that path.
pub fn allowed_methods(path: &str) -> Option<&'static str> {
    routes()
        .iter()
        .find(|(def, _)| def.is_match(path))
        .map(|(_, allow)| allow.as_str())
}

/// The default service: 405 + `Allow` on a known path, 404 otherwise.
pub async fn no_route(req: HttpRequest) -> HttpResponse {
    taskflow_platform::problem::no_route(
        req.method(),
        req.path(),
        allowed_methods(req.path()),
        "no such endpoint; see /docs",
    )
}

fn slug(status: StatusCode) -> String {
    match status {
        StatusCode::BAD_REQUEST => "bad-request".into(),
        StatusCode::NOT_FOUND => "not-found".into(),
        StatusCode::METHOD_NOT_ALLOWED => "method-not-allowed".into(),
        StatusCode::PAYLOAD_TOO_LARGE => "body-too-large".into(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported-media-type".into(),
        StatusCode::INTERNAL_SERVER_ERROR => "internal".into(),
        StatusCode::SERVICE_UNAVAILABLE => "unavailable".into(),
        other => format!("http-{}", other.as_u16()),
    }
}

/// For `App::wrap_fn`, inside the correlation middleware (and outside CORS, whose body type it
/// boxes).
pub fn middleware<S, B>(
    req: ServiceRequest,
    service: &S,
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
