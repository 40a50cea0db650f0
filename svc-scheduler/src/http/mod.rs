//! svc-scheduler's HTTP API: schedules and their occurrences.

pub mod auth;
pub mod docs;
pub mod errors;
pub mod schedules;
pub mod views;

use std::sync::Arc;

use actix_web::web;
use taskflow_platform::clock::SharedClock;
use taskflow_platform::db::DbPool;
use tokio::sync::Notify;

/// Largest request body (413 above it).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct AppState {
    pub pool: DbPool,
    pub clock: SharedClock,
    pub outbox_ready: Arc<Notify>,
    pub producer: String,
    /// Most fires per second a schedule may ask for.
    pub max_per_second: f64,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::QueryConfig::default().error_handler(errors::query_error))
        .app_data(web::PathConfig::default().error_handler(errors::path_error))
        .app_data(
            web::JsonConfig::default()
                .limit(MAX_BODY_BYTES)
                .error_handler(errors::json_error),
        )
        .service(schedules::create)
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
        .default_service(web::to(errors::no_route));
}
