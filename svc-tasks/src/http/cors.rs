//! CORS: pages of the configured origins (`TASKFLOW_CORS_ORIGINS`, e.g. svc-notify's dashboard)
//! may call the API from the browser with `Authorization: Bearer <api key>`.
//!
//! Mounted inside the problem middleware: a refused preflight (origin, method or header not
//! allowed) is a 400 problem document like every other error. Only a real preflight (`OPTIONS`
//! with `Access-Control-Request-Method`) is answered here; any other `OPTIONS` reaches the
//! routes and gets the usual 405 with `Allow`. A request from another origin is served as
//! before, without `Access-Control-Allow-Origin`, so the browser keeps its answer from the
//! page; CORS protects browsers, it is not authentication.

use actix_cors::Cors;

use crate::config::CorsOrigins;
use crate::http::correlation::HEADER as CORRELATION_ID;

/// How long a browser may cache a preflight answer, in seconds.
pub const MAX_AGE_SECS: usize = 600;

pub fn cors(origins: &CorsOrigins) -> Cors {
    origins
        .as_slice()
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
        .allowed_methods(["GET", "POST", "DELETE", "PATCH"])
        .allowed_headers([
            "authorization",
            "content-type",
            "idempotency-key",
            CORRELATION_ID,
        ])
        .expose_headers([CORRELATION_ID, "retry-after", "location"])
        .max_age(MAX_AGE_SECS)
}
