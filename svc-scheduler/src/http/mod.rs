//! svc-scheduler's HTTP API: schedules and their occurrences. Handlers parse the request, call
//! one use case (`service`) and map its error (`errors`); nothing here opens a transaction.

pub mod docs;
pub mod errors;
pub mod problems;
pub mod schedules;
pub mod views;

use actix_web::web;

use crate::service::Services;

/// Largest request body (413 above it).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct AppState {
    pub services: Services,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    errors::REJECTIONS.configure(cfg, MAX_BODY_BYTES);
    cfg.service(schedules::create)
        .service(schedules::list)
        .service(schedules::get)
        .service(schedules::patch)
        .service(schedules::delete)
        .service(schedules::pause)
        .service(schedules::resume)
        .service(schedules::trigger)
        .service(schedules::backfill)
        .service(schedules::occurrences)
        .service(docs::openapi_json)
        .default_service(web::to(problems::no_route));
}
