//! Answers for paths and methods no route serves (404, and 405 with `Allow`). The last line of
//! "every error is a problem document", the middleware that turns any other error response
//! into one, is the platform's (`taskflow_platform::http::problems`, types named by meaning),
//! which startup.rs wraps the app in.

use std::sync::OnceLock;

use actix_web::dev::ResourceDef;
use actix_web::{HttpRequest, HttpResponse};

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
