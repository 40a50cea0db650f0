//! Answers for paths and methods no route serves, as problem documents: 405 with `Allow` on a
//! path the API serves (as its OpenAPI document lists them), 404 elsewhere.

use actix_web::{HttpRequest, HttpResponse};

use super::docs::allowed_methods;

/// The default service.
pub async fn no_route(req: HttpRequest) -> HttpResponse {
    taskflow_platform::problem::no_route(
        req.method(),
        req.path(),
        allowed_methods(req.path()),
        "no such endpoint; the API is under /v1/schedules (see /openapi.json)",
    )
}
