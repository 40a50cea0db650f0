//! `GET /openapi.json`: svc-notify's API as OpenAPI 3.1.
//!
//! The handlers read their query strings themselves (`params.rs`: unknown parameters are
//! refused), so there is nothing for utoipa to derive from; the skeleton is written here and
//! completed with the statuses every TaskFlow document states (`taskflow_platform::http::
//! openapi`): 401 where credentials are needed, 400 for query and header parameters,
//! 400/413/422 for the stream-token body, 404 where a task is named, 503 + Retry-After when the
//! database cannot serve, 500 otherwise; every error is a problem document.
//!
//! Documented: the history, the overview, stream-token issuing, the projection rebuild (the
//! platform's routes and job schema, `taskflow_platform::rebuild::openapi`), the two SSE streams
//! (`text/event-stream`, with their parameters and refusals) and the health routes. The
//! WebSocket feed (`/v1/ws`) and the dashboard (`/`, `/dashboard/...`) are listed with their
//! route and purpose only (an upgrade and static files are not a JSON API); `/metrics` is
//! Prometheus' and left out. `checks/schemathesis-check.sh` fuzzes the JSON operations and
//! leaves out the streams, which by design never end while the client is entitled to them.

use std::sync::OnceLock;

use actix_web::{HttpResponse, get};
use serde_json::{Value, json};
use taskflow_platform::http::openapi::{self, BodyErrors, ErrorStatuses};

use taskflow_platform::rebuild::{self, Projection};

use crate::domain::TaskStatus;
use crate::domain::token::{DEFAULT_TTL_SECS, MAX_TTL_SECS, MIN_TTL_SECS};
use crate::service::rebuild::TaskViews;

/// Where the admin routes (the projection rebuild's) live.
const ADMIN: &str = "/v1/admin/";

/// The paths of operations no fuzzer can call to completion: streams and the upgrade.
pub const STREAMING_PATHS: [&str; 3] = ["/v1/stream", "/v1/tasks/{task_id}/stream", "/v1/ws"];

/// A stream token as `token::sign` makes it (base64url claims, a dot, a base64url signature).
const TOKEN_PATTERN: &str = "^tfs_[A-Za-z0-9_-]*\\.[A-Za-z0-9_-]*$";
/// What the `token` parameter must look like to be looked at (anything else is 400; a token
/// of this shape that does not verify is 401).
const TOKEN_PARAMETER_PATTERN: &str = "^tfs_[\\s\\S]*$";

/// The served document (built once).
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| complete(with_admin(skeleton())))
}

#[get("/openapi.json")]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(document())
}

fn query(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description})
}

fn token_parameter() -> Value {
    query(
        "token",
        json!({"type": "string", "pattern": TOKEN_PARAMETER_PATTERN}),
        "A stream token (POST /v1/stream-tokens) instead of the Authorization header, for \
         browsers; the header wins when both are sent. Never an API key (400).",
    )
}

fn cursor_parameters() -> Vec<Value> {
    let sequence = json!({"type": "integer", "minimum": 0, "maximum": i64::MAX});
    vec![
        query(
            "after",
            sequence.clone(),
            "Resume after this notification sequence number (the id of the last event received)",
        ),
        json!({
            "name": "Last-Event-ID", "in": "header", "required": false, "schema": sequence,
            "description": "What EventSource sends on reconnect; wins over `after`"
        }),
    ]
}

fn filter_parameters() -> Vec<Value> {
    let statuses: Vec<&str> = TaskStatus::ALL.iter().map(|s| s.as_str()).collect();
    vec![
        query(
            "type",
            json!({"type": "string", "minLength": 1, "maxLength": 64}),
            "Only tasks of this type",
        ),
        query(
            "status",
            json!({"type": "string", "enum": statuses}),
            "Only notifications of tasks in this status",
        ),
        json!({
            "name": "label", "in": "query", "required": false, "style": "form", "explode": true,
            "schema": {"type": "array", "items": {"type": "string", "pattern": "^[^:]+:[\\s\\S]*$"}},
            "description": "key:value, repeatable; all must match"
        }),
    ]
}

fn json_answer(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn event_stream(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"text/event-stream": {"schema": {
            "type": "string",
            "description": "Server-sent events: `id:` the sequence number, `event:` task, resync or end, `data:` JSON; `: keep-alive` comments while quiet"
        }}}
    })
}

fn skeleton() -> Value {
    let secured = json!([{"api_key": []}]);
    let statuses = TaskStatus::ALL.map(TaskStatus::as_str);
    let mut notifications_parameters = vec![
        query(
            "limit",
            json!({"type": "integer", "minimum": 1, "maximum": 500, "default": 100}),
            "Page size",
        ),
        query(
            "task_id",
            json!({"type": "string", "format": "uuid"}),
            "Only this task's notifications (404 when the tenant has no such task)",
        ),
        token_parameter(),
    ];
    notifications_parameters.extend(cursor_parameters());
    let mut tenant_stream_parameters = filter_parameters();
    tenant_stream_parameters.extend(cursor_parameters());
    tenant_stream_parameters.push(token_parameter());
    let mut task_stream_parameters = vec![json!({
        "name": "task_id", "in": "path", "required": true,
        "schema": {"type": "string", "format": "uuid"}
    })];
    task_stream_parameters.extend(cursor_parameters());
    task_stream_parameters.push(token_parameter());
    let mut ws_parameters = filter_parameters();
    ws_parameters.extend(cursor_parameters());
    ws_parameters.push(query(
        "task_id",
        json!({"type": "string", "format": "uuid"}),
        "Follow this task only",
    ));
    ws_parameters.push(token_parameter());
    let sequence = json!({"type": "integer", "minimum": 0});
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "TaskFlow notifications API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Watch a tenant's tasks live: Server-Sent Events (and a WebSocket) for \
                programs and the dashboard, the notification history, an overview to start from, \
                and short-lived stream tokens a browser can put in a URL. Authenticate with a \
                tenant's API key (`Authorization: Bearer tfk_...`, the key svc-tasks issues) or a \
                stream token (`?token=tfs_...`). Every error is an RFC 9457 \
                application/problem+json document with a stable `type` \
                (urn:taskflow:problem:<slug>). Unknown query parameters are refused (400). A method \
                a path does not support is 405 with `Allow`, an unknown path 404. The WebSocket \
                upgrade and the dashboard's static files are listed for completeness only."
        },
        "paths": {
            "/v1/notifications": {"get": {
                "tags": ["history"], "operationId": "notifications", "security": secured,
                "summary": "The notification history, oldest first, a page at a time",
                "parameters": notifications_parameters,
                "responses": {"200": json_answer("A page; `next_after` is the next page's `after`, null at the end", json!({
                    "type": "object",
                    "required": ["items", "next_after", "latest_seq", "pruned_through"],
                    "properties": {
                        "items": {"type": "array", "items": {"type": "object"}},
                        "next_after": {"type": ["integer", "null"]},
                        "latest_seq": sequence,
                        "pruned_through": sequence
                    }
                }))}
            }},
            "/v1/overview": {"get": {
                "tags": ["history"], "operationId": "overview", "security": secured,
                "summary": "Counters per status, the most recently changed tasks and `seq`: stream with after=seq to follow from exactly this state",
                "parameters": [
                    query("limit", json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 200}), "Tasks to list"),
                    token_parameter()
                ],
                "responses": {"200": json_answer("The tenant now", json!({
                    "type": "object",
                    "required": ["seq", "counts", "tasks"],
                    "properties": {
                        "seq": sequence,
                        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                        "tasks": {"type": "array", "items": {"type": "object"}}
                    }
                }))}
            }},
            "/v1/stream-tokens": {"post": {
                "tags": ["tokens"], "operationId": "issue_stream_token", "security": secured,
                "summary": "Exchange the API key (header only; a token cannot mint tokens) for a stream token",
                "requestBody": {
                    "required": false,
                    "description": "No body (or only white space) asks for the defaults",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TokenRequest"}}}
                },
                "responses": {"201": json_answer("The token", json!({
                    "type": "object",
                    "required": ["token", "tenant_id", "task_id", "expires_at", "ttl_seconds"],
                    "properties": {
                        "token": {"type": "string", "pattern": TOKEN_PATTERN},
                        "tenant_id": {"type": "string", "format": "uuid"},
                        "task_id": {"type": ["string", "null"], "format": "uuid"},
                        "expires_at": {"type": "string", "format": "date-time"},
                        "ttl_seconds": {"type": "integer", "minimum": MIN_TTL_SECS, "maximum": MAX_TTL_SECS}
                    }
                }))}
            }},
            "/v1/stream": {"get": {
                "tags": ["streams"], "operationId": "tenant_stream", "security": secured,
                "summary": "Every task of the tenant, live (SSE); from now, or resumed after a sequence number",
                "description": "Never ends by itself. A resume cursor ahead of the feed is 400 (`cursor-ahead`, with `latest_seq`); one older than the kept history starts with a `resync` event. A token limited to one task gets 403.",
                "parameters": tenant_stream_parameters,
                "responses": {
                    "200": event_stream("The feed"),
                    "403": {"description": "The stream token is limited to one task"}
                }
            }},
            "/v1/tasks/{task_id}/stream": {"get": {
                "tags": ["streams"], "operationId": "task_stream", "security": secured,
                "summary": "One task, live (SSE), from its first event; ends after its terminal event",
                "parameters": task_stream_parameters,
                "responses": {
                    "200": event_stream("The task's feed"),
                    "204": {"description": "Resumed after the task's last event: it has ended (stops EventSource)"}
                }
            }},
            "/v1/ws": {"get": {
                "tags": ["streams"], "operationId": "websocket_feed", "security": secured,
                "summary": "The same feed over WebSocket (text messages carry the SSE data JSON)",
                "parameters": ws_parameters,
                "responses": {
                    "101": {"description": "Switched to WebSocket"},
                    "400": {"description": "Not a WebSocket upgrade, or an invalid parameter"}
                }
            }},
            "/": {"get": {
                "tags": ["dashboard"], "operationId": "dashboard",
                "summary": "The dashboard (HTML)",
                "responses": {"200": {"description": "The page", "content": {"text/html": {"schema": {"type": "string"}}}}}
            }},
            "/dashboard/config.json": {"get": {
                "tags": ["dashboard"], "operationId": "dashboard_config",
                "summary": "Where the browser finds svc-tasks, and the statuses and task types it shows",
                "responses": {"200": json_answer("The configuration", json!({
                    "type": "object",
                    "required": ["tasks_api_url", "statuses", "active_statuses", "task_types"],
                    "properties": {
                        "tasks_api_url": {"type": "string"},
                        "statuses": {"type": "array", "items": {"type": "string", "enum": statuses}},
                        "active_statuses": {"type": "array", "items": {"type": "string", "enum": statuses}},
                        "task_types": {"type": "array", "items": {"type": "string"}}
                    }
                }))}
            }},
            "/dashboard/{file}": {"get": {
                "tags": ["dashboard"], "operationId": "dashboard_asset",
                "summary": "The dashboard's script and style sheet (app.js, style.css)",
                "parameters": [{"name": "file", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1}}],
                "responses": {
                    "200": {"description": "The file", "content": {
                        "text/javascript": {"schema": {"type": "string"}},
                        "text/css": {"schema": {"type": "string"}}
                    }},
                    "404": {"description": "No such file"}
                }
            }},
            "/health/live": {"get": {
                "tags": ["health"], "operationId": "live",
                "responses": {"200": json_answer("The process answers", json!({"type": "object"}))}
            }},
            "/health/ready": {"get": {
                "tags": ["health"], "operationId": "ready",
                "responses": {
                    "200": json_answer("The database, Kafka and the schema registry answer", json!({"type": "object"})),
                    "503": {"description": "A dependency does not answer; `checks` says which"}
                }
            }}
        },
        "components": {
            "securitySchemes": {"api_key": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Problem": openapi::problem_schema(None),
                "TokenRequest": {
                    "type": "object", "additionalProperties": false,
                    "properties": {
                        "task_id": {"type": ["string", "null"], "format": "uuid", "description": "Limit the token to this task's stream and history (404 when unknown)"},
                        "ttl_seconds": {
                            "type": ["integer", "null"], "minimum": MIN_TTL_SECS, "maximum": MAX_TTL_SECS,
                            "description": format!("Lifetime; default {DEFAULT_TTL_SECS}")
                        }
                    }
                }
            }
        }
    })
}

/// The projection rebuild's routes (the platform's), behind the admin token.
fn with_admin(mut doc: Value) -> Value {
    let paths = rebuild::openapi::paths(
        "the tasks' views from the notification history (then the per-status counters from \
         the views); what retention pruned from a task's history cannot be restored",
    );
    if let (Some(into), Value::Object(admin)) = (doc["paths"].as_object_mut(), paths) {
        into.extend(admin);
    }
    doc["components"]["securitySchemes"]["admin_token"] = rebuild::openapi::security_scheme();
    doc["components"]["schemas"]["RebuildJob"] = rebuild::openapi::job_schema(TaskViews::UNIT);
    doc
}

fn complete(mut doc: Value) -> Value {
    openapi::for_each_operation(&mut doc, |path, _, op| {
        let secured = op.get("security").is_some();
        let has_body = op.get("requestBody").is_some();
        let locations = openapi::parameter_locations(op);
        let names_task = (locations.iter().any(|l| l == "path") && path != "/dashboard/{file}")
            || op["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["name"] == "task_id"))
            || has_body;
        let statuses = ErrorStatuses {
            unauthorized: secured.then_some("Missing, unknown, expired or revoked credentials"),
            unavailable: (secured || path == "/health/ready").then_some(
                "The notification database cannot serve now; retry after Retry-After",
            ),
            body: has_body.then_some(BodyErrors {
                too_large: "Body larger than 256 KiB",
                unprocessable: "Body has unknown fields or invalid values",
            }),
            not_found: names_task.then_some(
                "No such task for this tenant (a task appears moments after its submission)",
            ),
            // Every secured route but the admin ones reads its query string and refuses unknown
            // parameters.
            bad_parameter: (secured && !path.starts_with(ADMIN)).then_some(
                "Unknown, repeated or invalid query parameter or Last-Event-ID; an API key in the URL",
            ),
            internal: "Internal error",
        };
        openapi::complete_errors(op, &statuses);
    });
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_is_a_problem_and_every_api_route_is_secured() {
        let doc = document();
        for (path, methods) in openapi::routes(doc) {
            for method in methods {
                let op = &doc["paths"][&path][method.to_lowercase()];
                let responses = op["responses"].as_object().expect("responses");
                assert!(responses.contains_key("500"), "{method} {path}");
                if path.starts_with("/v1/") {
                    assert!(op["security"].is_array(), "{method} {path}");
                    let statuses: &[&str] = if path.starts_with(ADMIN) {
                        &["401", "403", "503"]
                    } else {
                        &["400", "401", "503"]
                    };
                    for status in statuses {
                        assert!(responses.contains_key(*status), "{method} {path} {status}");
                    }
                }
                for (status, response) in responses {
                    if status.starts_with('4') || status.starts_with('5') {
                        assert!(
                            response["content"][openapi::PROBLEM].is_object(),
                            "{method} {path} {status}"
                        );
                    }
                }
            }
        }
        for path in STREAMING_PATHS {
            assert!(doc["paths"][path]["get"].is_object(), "{path}");
        }
    }
}
