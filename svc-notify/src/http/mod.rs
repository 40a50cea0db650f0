//! svc-notify's HTTP API: streams (SSE, WebSocket), history, stream tokens, the dashboard.

pub mod auth;
pub mod dashboard;
pub mod docs;
pub mod errors;
pub mod history;
pub mod params;
pub mod problems;
pub mod streams;
pub mod tokens;
pub mod ws;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use taskflow_platform::db::DbPool;

use crate::hub::Hub;

pub struct AppState {
    pub pool: DbPool,
    pub hub: Hub,
    /// Signs stream tokens; shared by every instance through the database.
    pub token_secret: Arc<Vec<u8>>,
    pub keepalive: Duration,
    /// svc-tasks as the browser reaches it.
    pub tasks_api_url: String,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    errors::REJECTIONS.configure(cfg, 16 * 1024);
    cfg.service(streams::tenant_stream)
        .service(streams::task_stream)
        .service(ws::feed)
        .service(history::notifications)
        .service(history::overview)
        .service(tokens::issue)
        .service(dashboard::index)
        .service(dashboard::config)
        .service(dashboard::asset)
        .service(docs::openapi_json)
        .default_service(web::to(problems::no_route));
}
