//! `/health/live` (the process answers) and `/health/ready` (it can do its job: database, Kafka
//! and the schema registry all answer).

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, get, web};
use serde_json::json;
use taskflow_platform::problem::Problem;

use super::AppState;
use crate::store;

/// The process is up.
#[utoipa::path(tag = "health", responses((status = 200, description = "`{\"status\": \"ok\"}`", body = Object)))]
#[get("/health/live")]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Database, Kafka and the schema registry answer.
#[utoipa::path(tag = "health", responses(
    (status = 200, description = "`{\"status\": \"ready\", \"checks\": {...}}`", body = Object),
    (status = 503, description = "A dependency does not answer; `checks` says which"),
))]
#[get("/health/ready")]
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let timeout = Duration::from_secs(2);
    let database = async {
        let mut conn = state.services.db.get().await.map_err(|e| e.to_string())?;
        store::ping(&mut conn).await.map_err(|e| e.to_string())
    };
    let kafka = state.producer.check_broker(timeout);
    let registry = async {
        state
            .registry
            .global_compatibility()
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let (database, kafka, registry) = tokio::join!(
        tokio::time::timeout(timeout, database),
        kafka,
        tokio::time::timeout(timeout, registry),
    );
    let flatten = |r: Result<Result<(), String>, tokio::time::error::Elapsed>| match r {
        Ok(inner) => inner,
        Err(_) => Err("timed out".to_owned()),
    };
    let checks = [
        ("database", flatten(database)),
        ("kafka", kafka),
        ("schema_registry", flatten(registry)),
    ];
    let ok = checks.iter().all(|(_, r)| r.is_ok());
    let body: serde_json::Map<String, serde_json::Value> = checks
        .into_iter()
        .map(|(name, r)| {
            let v = match r {
                Ok(()) => json!({"status": "up"}),
                Err(e) => json!({"status": "down", "error": e}),
            };
            (name.to_owned(), v)
        })
        .collect();
    if ok {
        HttpResponse::Ok().json(json!({"status": "ready", "checks": body}))
    } else {
        let down: Vec<&str> = body
            .iter()
            .filter(|(_, v)| v["status"] == "down")
            .map(|(k, _)| k.as_str())
            .collect();
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            "Not ready",
            format!("not answering: {}", down.join(", ")),
        )
        .with("checks", body)
        .retry_after(2)
        .error_response()
    }
}
