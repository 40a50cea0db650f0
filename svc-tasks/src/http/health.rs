//! `/health/live` (the process answers) and `/health/ready` (it can do its job: database, Kafka
//! and the schema registry all answer).

use std::time::Duration;

use actix_web::{HttpResponse, get, web};
use serde_json::json;

use super::AppState;
use crate::store;

/// The process is up.
#[utoipa::path(tag = "health", responses((status = 200)))]
#[get("/health/live")]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Database, Kafka and the schema registry answer.
#[utoipa::path(tag = "health", responses((status = 200), (status = 503, description = "A dependency does not answer")))]
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
    let status = if ok { "ready" } else { "not_ready" };
    let payload = json!({"status": status, "checks": body});
    if ok {
        HttpResponse::Ok().json(payload)
    } else {
        HttpResponse::ServiceUnavailable().json(payload)
    }
}
