//! The HTTP API: routes, extractors and the mapping of errors to problem documents.

pub mod admin;
pub mod auth;
pub mod correlation;
pub mod cors;
pub mod docs;
pub mod dto;
pub mod errors;
pub mod health;
pub mod list_query;
pub mod problems;
pub mod tasks;

use actix_web::web;
use taskflow_platform::http::Readiness;

use crate::service::Services;

pub struct AppState {
    pub services: Services,
    pub admin_token: String,
    /// Database, Kafka and the registry, for `/health/ready`.
    pub readiness: Readiness,
    /// `TASKFLOW_MAX_BODY_BYTES`, for handlers that read their body themselves.
    pub max_body_bytes: usize,
}

/// Registers every route and the body/path/query error handlers.
pub fn configure(cfg: &mut web::ServiceConfig, max_body_bytes: usize) {
    errors::REJECTIONS.configure(cfg, max_body_bytes);
    cfg.app_data(web::PayloadConfig::default().limit(max_body_bytes))
        .service(tasks::submit_batch)
        .service(tasks::submit_task)
        .service(tasks::list_tasks)
        .service(tasks::get_task)
        .service(tasks::task_events)
        .service(tasks::cancel_task)
        .service(admin::create_tenant)
        .service(admin::find_tenants)
        .service(admin::get_tenant)
        .service(admin::update_tenant)
        .service(admin::add_key)
        .service(admin::revoke_key)
        .service(admin::outbox)
        .service(health::live)
        .service(health::ready)
        .service(docs::openapi_json)
        .service(docs::docs_page)
        .service(docs::swagger_ui_js)
        .service(docs::swagger_ui_css)
        .default_service(web::to(problems::no_route));
}
