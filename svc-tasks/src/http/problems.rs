//! The last line of "every error is a problem document": answers for paths and methods no
//! route serves (404, and 405 with `Allow`), and the platform's middleware that turns any error
//! response that is not yet `application/problem+json` (actix's own, e.g. a payload error in an
//! extractor) into one, keeping its status and headers.

use std::sync::OnceLock;

use actix_web::body::MessageBody;
use actix_web::dev::{ResourceDef, Service, ServiceRequest, ServiceResponse};
use actix_web::{HttpRequest, HttpResponse};
use taskflow_platform::http::problems;

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

/// Any error response that is not yet a problem document becomes one, its type named by
/// meaning (`bad-request`, ...). For `App::wrap_fn`, inside the correlation middleware (and
/// outside CORS, whose body type it boxes).
pub fn middleware<S, B>(
    req: ServiceRequest,
    service: &S,
) -> impl std::future::Future<Output = Result<ServiceResponse, actix_web::Error>> + use<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    problems::middleware(req, service, problems::named_slug)
}
