//! `/health/live` (the process answers) and `/health/ready` (it can do its job: database, Kafka
//! and the schema registry all answer): the platform's checks, documented in this API's spec.

use actix_web::{HttpResponse, get, web};
use taskflow_platform::http::health;

use super::AppState;

/// The process is up.
#[utoipa::path(tag = "health", responses((status = 200, description = "`{\"status\": \"ok\"}`", body = Object)))]
#[get("/health/live")]
pub async fn live() -> HttpResponse {
    health::live().await
}

/// Database, Kafka and the schema registry answer.
#[utoipa::path(tag = "health", responses(
    (status = 200, description = "`{\"status\": \"ready\", \"checks\": {...}}`", body = Object),
    (status = 503, description = "A dependency does not answer; `checks` says which"),
))]
#[get("/health/ready")]
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    health::ready_response(&state.readiness).await
}
