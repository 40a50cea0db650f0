//! `/health/live` (the process answers) and `/health/ready` (it can do its job: each dependency
//! the service declared answers within 2 s). Every service mounts these with
//! [`Readiness::configure`]; a not-ready answer is a 503 problem document with `checks`.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, web};
use diesel_async::RunQueryDsl;
use serde_json::json;

use crate::db::DbPool;
use crate::problem::Problem;
use crate::producer::EventProducer;
use crate::registry::RegistryClient;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// What a service needs to answer "ready": each present dependency is checked.
#[derive(Clone, Default)]
pub struct Readiness {
    pub database: Option<DbPool>,
    pub kafka: Option<EventProducer>,
    pub registry: Option<RegistryClient>,
}

impl Readiness {
    /// Mounts `/health/live` and `/health/ready`.
    pub fn configure(self) -> impl FnOnce(&mut web::ServiceConfig) + Clone {
        move |cfg| {
            cfg.app_data(web::Data::new(self))
                .route("/health/live", web::get().to(live))
                .route("/health/ready", web::get().to(ready));
        }
    }

    /// Each declared dependency's answer, in a fixed order.
    pub async fn check(&self) -> Vec<(&'static str, Result<(), String>)> {
        let database = async {
            let Some(pool) = &self.database else {
                return None;
            };
            let ping = async {
                let mut conn = pool.get().await.map_err(|e| e.to_string())?;
                diesel::sql_query("SELECT 1")
                    .execute(&mut conn)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            };
            Some(within(ping).await)
        };
        let kafka = async {
            let producer = self.kafka.as_ref()?;
            Some(producer.check_broker(CHECK_TIMEOUT).await)
        };
        let registry = async {
            let client = self.registry.as_ref()?;
            let answer = async {
                client
                    .global_compatibility()
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            };
            Some(within(answer).await)
        };
        let (database, kafka, registry) = tokio::join!(database, kafka, registry);
        [
            ("database", database),
            ("kafka", kafka),
            ("schema_registry", registry),
        ]
        .into_iter()
        .filter_map(|(name, result)| result.map(|r| (name, r)))
        .collect()
    }
}

async fn within(check: impl Future<Output = Result<(), String>>) -> Result<(), String> {
    tokio::time::timeout(CHECK_TIMEOUT, check)
        .await
        .unwrap_or_else(|_| Err("timed out".to_owned()))
}

/// The process is up.
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Every declared dependency answers.
pub async fn ready(readiness: web::Data<Readiness>) -> HttpResponse {
    ready_response(&readiness).await
}

/// The `/health/ready` answer for `readiness`, for services that document the route themselves.
pub async fn ready_response(readiness: &Readiness) -> HttpResponse {
    let checks = readiness.check().await;
    let ok = checks.iter().all(|(_, r)| r.is_ok());
    let down: Vec<&str> = checks
        .iter()
        .filter(|(_, r)| r.is_err())
        .map(|(name, _)| *name)
        .collect();
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
        return HttpResponse::Ok().json(json!({"status": "ready", "checks": body}));
    }
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
