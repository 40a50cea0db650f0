//! The rebuild routes and the job's schema for a service's OpenAPI document, as JSON (for the
//! documents written by hand; a utoipa document can list [`super::RebuildJob`] and
//! [`super::JobState`] as `ToSchema`s and merge [`paths`]).
//!
//! [`paths`] refers to `#/components/schemas/RebuildJob`, `#/components/schemas/Problem`
//! ([`crate::http::openapi::problem_schema`]) and the security scheme `admin_token`
//! ([`security_scheme`]): put [`job_schema`] and those in the document's `components`.

use serde_json::{Value, json};

use super::http::COLLECTION_PATH;
use super::job::JobState;
use crate::http::openapi::problem_content;

/// The security scheme the routes name: `components.securitySchemes.admin_token`.
pub fn security_scheme() -> Value {
    json!({
        "type": "http",
        "scheme": "bearer",
        "description": "The operator's admin token (TASKFLOW_ADMIN_TOKEN)"
    })
}

/// `components.schemas.RebuildJob`. `unit` is what `total` and `done` count in this service
/// (e.g. `tasks`).
pub fn job_schema(unit: &str) -> Value {
    let states: Vec<&str> = JobState::ALL.iter().map(|s| s.as_str()).collect();
    let timestamp = json!({"type": "string", "format": "date-time"});
    json!({
        "type": "object",
        "description": "A projection rebuild job",
        "required": ["job_id", "state", "unit", "total", "done", "started_at", "updated_at", "finished_at", "error"],
        "properties": {
            "job_id": {"type": "string", "format": "uuid"},
            "state": {"type": "string", "enum": states},
            "unit": {"type": "string", "description": format!("What total and done count (here: {unit})")},
            "total": {"type": ["integer", "null"], "minimum": 0, "description": "Units this job refolds (those that existed when it started); null until counted"},
            "done": {"type": "integer", "minimum": 0, "description": "Units refolded so far, committed page by page"},
            "started_at": timestamp,
            "updated_at": {"type": "string", "format": "date-time", "description": "Last progress"},
            "finished_at": {"type": ["string", "null"], "format": "date-time"},
            "error": {"type": ["string", "null"], "description": "Why it failed"}
        },
        "additionalProperties": false
    })
}

fn problem(description: &str) -> Value {
    json!({"description": description, "content": problem_content()})
}

fn job(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RebuildJob"}}}
    })
}

fn unavailable() -> Value {
    json!({
        "description": "The database cannot serve now, or a job was just ending; nothing was done. Retry after Retry-After",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        "content": problem_content()
    })
}

/// The two path items, keyed by path, for the document's `paths`. `what` says what the
/// service's rebuild refolds (e.g. "the tasks view and the status counters from the
/// notification history").
pub fn paths(what: &str) -> Value {
    let common = |mut responses: Value| {
        responses["401"] = problem("No admin token, or another one");
        responses["403"] = problem("This service has no admin token configured (admin-disabled)");
        responses["500"] = problem("Internal error");
        responses["503"] = unavailable();
        responses
    };
    let mut started = job("The job (new, or the one already running); poll Location");
    started["headers"] = json!({"Location": {
        "description": "The job's status resource",
        "schema": {"type": "string"}
    }});
    json!({
        COLLECTION_PATH: {
            "post": {
                "tags": ["admin"],
                "operationId": "startProjectionRebuild",
                "summary": "Rebuild the projections from the log, as a job",
                "description": format!(
                    "Starts refolding {what}, page by page while the service keeps serving. \
                     Answers at once with the job; while one runs (on any instance), starting \
                     another returns the running one (also 202, same job_id)."
                ),
                "security": [{"admin_token": []}],
                "responses": common(json!({"202": started}))
            }
        },
        format!("{COLLECTION_PATH}/{{job_id}}"): {
            "get": {
                "tags": ["admin"],
                "operationId": "getProjectionRebuild",
                "summary": "A rebuild job's state and progress",
                "description": "A job whose instance stopped before it finished shows as failed (interrupted).",
                "security": [{"admin_token": []}],
                "parameters": [{
                    "name": "job_id", "in": "path", "required": true,
                    "schema": {"type": "string", "format": "uuid"}
                }],
                "responses": common(json!({
                    "200": job("The job"),
                    "404": problem("No such job")
                }))
            }
        }
    })
}
