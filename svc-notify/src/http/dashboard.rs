//! The dashboard: static files compiled into the binary (no build step), where svc-tasks is
//! for the browser's cancel and submit calls, and the words it shows (statuses, task types) as
//! `taskflow-schemas` defines them, so the page keeps no copy of its own.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, get, web};
use serde_json::{Value, json};
use taskflow_schemas::{TASK_TYPES, TaskStatus};

use super::AppState;
use super::errors::{ApiError, not_found};

const INDEX: &str = include_str!("../../static/index.html");
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/app.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../static/style.css"),
    ),
];

#[get("/")]
pub async fn index() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .body(INDEX)
}

#[get("/dashboard/config.json")]
pub async fn config(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(config_body(&state.tasks_api_url))
}

/// Statuses in `TaskStatus::ALL` order (the order of the page's counters); the active ones are
/// those not terminal; task types in `TASK_TYPES` order.
fn config_body(tasks_api_url: &str) -> Value {
    let names = |keep: fn(&TaskStatus) -> bool| -> Vec<&str> {
        TaskStatus::ALL
            .into_iter()
            .filter(keep)
            .map(TaskStatus::as_str)
            .collect()
    };
    json!({
        "tasks_api_url": tasks_api_url,
        "statuses": names(|_| true),
        "active_statuses": names(|s| !s.is_terminal()),
        "task_types": TASK_TYPES.map(|(name, _)| name),
    })
}

#[get("/dashboard/{file}")]
pub async fn asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (_, content_type, body) = ASSETS
        .iter()
        .find(|(name, _, _)| *name == file.as_str())
        .ok_or_else(|| not_found(format!("no dashboard file {:?}", file.as_str())))?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, *content_type))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .body(*body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_names_the_shared_vocabulary() {
        let body = config_body("http://tasks");
        assert_eq!(
            body,
            json!({
                "tasks_api_url": "http://tasks",
                "statuses": ["scheduled", "pending", "running", "retrying", "completed", "failed", "cancelled"],
                "active_statuses": ["scheduled", "pending", "running", "retrying"],
                "task_types": ["http", "sleep", "noop", "fail"],
            })
        );
    }
}
