//! Answers for paths and methods no route serves, as problem documents (404, or 405 with
//! `Allow` on a known path), and the platform's middleware that makes any other error response
//! a problem document.

use actix_web::{HttpRequest, HttpResponse};

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
/// becomes one of type `http-<status>`, keeping its status and headers. For `App::wrap_fn`.
pub fn middleware<S, B>(
    req: actix_web::dev::ServiceRequest,
    service: &S,
) -> impl std::future::Future<Output = Result<actix_web::dev::ServiceResponse, actix_web::Error>>
+ use<S, B>
where
    S: actix_web::dev::Service<
            actix_web::dev::ServiceRequest,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody + 'static,
{
    taskflow_platform::http::problems::middleware(
        req,
        service,
        taskflow_platform::http::problems::status_slug,
    )
}
