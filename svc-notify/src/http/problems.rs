//! Answers for paths and methods no route serves, as problem documents (404, or 405 with
//! `Allow` on a known path). Any other error response becomes a problem document in the
//! platform's middleware (`taskflow_platform::http::problems`, types `http-<status>`), which
//! startup.rs wraps the app in.

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
