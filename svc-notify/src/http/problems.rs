//! Answers for paths and methods no route serves, as problem documents (404, or 405 with
//! `Allow` on a known path).

use actix_web::{HttpRequest, HttpResponse, ResponseError};
use taskflow_platform::problem::Problem;

/// Route templates (as prefixes and exact paths) with their methods.
fn allowed(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["v1", "stream"] | ["v1", "ws"] | ["v1", "notifications"] | ["v1", "overview"] => {
            Some("GET")
        }
        ["v1", "tasks", _, "stream"] => Some("GET"),
        ["v1", "stream-tokens"] => Some("POST"),
        [""] | ["dashboard", _] | ["health", "live" | "ready"] | ["openapi.json"] => Some("GET"),
        _ => None,
    }
}

pub async fn no_route(req: HttpRequest) -> HttpResponse {
    taskflow_platform::problem::no_route(
        req.method(),
        req.path(),
        allowed(req.path()),
        "no such endpoint; the dashboard is at /, the API under /v1",
    )
}

/// Any error response that is not yet a problem document (actix's own, e.g. a payload error)
/// becomes one, keeping its status and headers. For `App::wrap_fn`.
pub fn middleware<S>(
    req: actix_web::dev::ServiceRequest,
    service: &S,
) -> impl std::future::Future<Output = Result<actix_web::dev::ServiceResponse, actix_web::Error>> + use<S>
where
    S: actix_web::dev::Service<
            actix_web::dev::ServiceRequest,
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
        >,
{
    use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
    let response = service.call(req);
    async move {
        let response = response.await?;
        let status = response.status();
        let is_problem = response
            .headers()
            .get(CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes() == taskflow_platform::problem::CONTENT_TYPE.as_bytes());
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
        let slug = format!("http-{}", status.as_u16());
        let mut replaced = Problem::new(status, &slug, title, detail).error_response();
        for (name, value) in res.headers() {
            if name != CONTENT_TYPE && name != CONTENT_LENGTH {
                replaced.headers_mut().append(name.clone(), value.clone());
            }
        }
        Ok(actix_web::dev::ServiceResponse::new(req, replaced))
    }
}
