//! `GET /openapi.json` and `GET /docs`, a page for people.
//!
//! The document starts from what utoipa derives from the handlers and is then completed so that
//! it states what the server really does (schemathesis checks the two against each other in
//! `make test`, checks/schemathesis-check.sh):
//! - every status an operation can answer, with the problem document (`application/problem+json`)
//!   for every error: 401 where credentials are needed, 400/413/415/422 where a body is read,
//!   404 where a path names a resource, 400 for query and header parameters, 503 (+ Retry-After)
//!   where the database is used, 500 everywhere;
//! - the exact rules of the submission body (one variant per task type with its payload schema
//!   from `schemas/tasks/`), of query parameters (`limit` bounds, cursor shape) and of the
//!   Idempotency-Key header;
//! - that no string may hold U+0000, which the database cannot store;
//! - the projection rebuild's two routes and its job (`RebuildJob`), as the platform serves and
//!   documents them (`taskflow_platform::rebuild::openapi`).

use std::sync::OnceLock;

use actix_web::{HttpResponse, get};
use serde_json::{Map, Value, json};
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

use taskflow_platform::http::openapi::{self, BodyErrors, ErrorStatuses, METHODS, ProblemList};
use taskflow_platform::rebuild::{self, Projection};
use taskflow_schemas::{Priority, TaskStatus};

use super::{admin, dto, health, tasks};
use crate::domain::catalog::payload_schemas;
use crate::domain::submission::{
    MAX_DELAY_MS, MAX_IDEMPOTENCY_KEY, Policy, RUN_AT_PAST_TOLERANCE_MS,
};
use crate::service::rebuild::TaskProjection;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "TaskFlow tasks API",
        description = "Submit, watch and cancel background tasks. Every error is an RFC 9457 \
            application/problem+json document with a stable `type` (urn:taskflow:problem:<slug>). \
            A method a path does not support is answered 405 with `Allow`; an unknown path 404. \
            No string anywhere may contain U+0000 (NUL): the database cannot store it, so such \
            input is refused as invalid (422 for bodies, 400 for query parameters)."
    ),
    paths(
        tasks::submit_task, tasks::submit_batch, tasks::get_task, tasks::list_tasks,
        tasks::task_events, tasks::cancel_task,
        admin::create_tenant, admin::find_tenants, admin::get_tenant, admin::update_tenant, admin::add_key,
        admin::revoke_key, admin::outbox,
        health::live, health::ready,
    ),
    components(schemas(dto::SubmitTask, dto::BatchItem, dto::SubmitBatch, dto::CancelTask, dto::TaskDto, dto::TaskList, dto::EventList)),
    modifiers(&Security)
)]
pub struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// No U+0000 anywhere in the string.
pub const NO_NUL: &str = openapi::NO_NUL;
/// `valid_idempotency_key`.
pub const IDEMPOTENCY_KEY_PATTERN: &str = "^[!-~]([ -~]{0,253}[!-~])?$";
/// The label key rule of `submission::validate`.
pub const LABEL_KEY_PATTERN: &str = "^[A-Za-z0-9._/-]{1,63}$";
/// `admin::check_name`: no control characters, no space first or last.
pub const TENANT_NAME_PATTERN: &str = "^[^\\u0000-\\u0020\\u007f-\\u009f]([^\\u0000-\\u001f\\u007f-\\u009f]*[^\\u0000-\\u0020\\u007f-\\u009f])?$";

/// The served document (built once).
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let derived = serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|_| json!({}));
        complete(derived)
    })
}

/// (path template, methods in upper case) of every operation, plus the two documentation
/// routes, for the 405 answer's `Allow`.
pub fn routes() -> &'static [(String, Vec<String>)] {
    static ROUTES: OnceLock<Vec<(String, Vec<String>)>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        let mut routes = openapi::routes(document());
        routes.push(("/openapi.json".into(), vec!["GET".into()]));
        routes.push(("/docs".into(), vec!["GET".into()]));
        routes.push(("/docs/swagger-ui-bundle.js".into(), vec!["GET".into()]));
        routes.push(("/docs/swagger-ui.css".into(), vec!["GET".into()]));
        routes
    })
}

fn complete(mut doc: Value) -> Value {
    let schemas = &mut doc["components"]["schemas"];
    schemas["Problem"] = problem_schema();
    for (name, schema) in submission_schemas() {
        schemas[name] = schema;
    }
    for (name, schema) in tenant_schemas() {
        schemas[name] = schema;
    }
    schemas["CancelTask"] = json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "reason": {"type": ["string", "null"], "pattern": NO_NUL, "description": "Recorded with the request"}
        }
    });
    openapi::for_each_operation(&mut doc, |path, _, op| complete_operation(path, op));
    with_rebuild(&mut doc);
    add_links(&mut doc);
    doc
}

/// The projection rebuild's routes, schema and admin token scheme: the platform's, as served
/// (`taskflow_platform::rebuild::routes`), so not completed like the routes above.
fn with_rebuild(doc: &mut Value) {
    let paths = rebuild::openapi::paths(
        "every task from the task log (the tasks view) and recounting the tenants' active tasks",
    );
    if let (Some(into), Value::Object(rebuild_paths)) = (doc["paths"].as_object_mut(), paths) {
        into.extend(rebuild_paths);
    }
    doc["components"]["securitySchemes"]["admin_token"] = rebuild::openapi::security_scheme();
    doc["components"]["schemas"]["RebuildJob"] = rebuild::openapi::job_schema(TaskProjection::UNIT);
}

/// What a created resource leads to (OpenAPI links; schemathesis follows them statefully).
fn add_links(doc: &mut Value) {
    let link = |operation: &str, parameters: Value| json!({"operationId": operation, "parameters": parameters});
    let task = json!({"id": "$response.body#/id"});
    let tenant = json!({"id": "$response.body#/tenant_id"});
    let key = json!({"id": "$response.body#/tenant_id", "key_id": "$response.body#/key_id"});
    let links = [
        (
            "/v1/tasks",
            "post",
            "201",
            json!({
                "GetTask": link("get_task", task.clone()),
                "TaskEvents": link("task_events", task.clone()),
                "CancelTask": link("cancel_task", task),
            }),
        ),
        (
            "/v1/admin/tenants",
            "post",
            "201",
            json!({
                "GetTenant": link("get_tenant", tenant.clone()),
                "UpdateTenant": link("update_tenant", tenant.clone()),
                "AddKey": link("add_key", tenant),
                "RevokeKey": link("revoke_key", key.clone()),
            }),
        ),
        (
            "/v1/admin/tenants/{id}/keys",
            "post",
            "201",
            json!({"RevokeKey": link("revoke_key", key)}),
        ),
        (
            "/v1/admin/projections/rebuild",
            "post",
            "202",
            json!({"RebuildStatus": link("getProjectionRebuild", json!({"job_id": "$response.body#/job_id"}))}),
        ),
    ];
    for (path, method, status, links) in links {
        let response = &mut doc["paths"][path][method]["responses"][status];
        if response.is_object() {
            response["links"] = links;
        }
    }
}

fn problem_schema() -> Value {
    openapi::problem_schema(Some(ProblemList {
        key: "errors",
        description: "Each problem, located by a JSON pointer into the request body",
    }))
}

/// A payload schema from `schemas/tasks/`, with "no U+0000" added to every string and every
/// free-form member name (the server refuses those; see `domain::text`).
fn storable_schema(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    object.remove("$schema");
    if object.get("type").and_then(Value::as_str) == Some("string") {
        let pattern = match object.get("pattern").and_then(Value::as_str) {
            None => NO_NUL.to_owned(),
            // A prefix rule ("^https?://"): the rest of the string must not hold NUL either.
            Some(p) if p.starts_with('^') && !p.ends_with('$') => format!("{p}[^\\u0000]*$"),
            Some(p) => p.to_owned(),
        };
        object.insert("pattern".into(), Value::String(pattern));
    }
    if object.get("type").and_then(Value::as_str) == Some("object")
        && object.get("additionalProperties") != Some(&Value::Bool(false))
    {
        object.insert("propertyNames".into(), json!({"pattern": NO_NUL}));
    }
    for key in ["properties"] {
        if let Some(Value::Object(members)) = object.get_mut(key) {
            members.values_mut().for_each(storable_schema);
        }
    }
    for key in ["additionalProperties", "items"] {
        if let Some(inner) = object.get_mut(key) {
            storable_schema(inner);
        }
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(Value::Array(branches)) = object.get_mut(key) {
            branches.iter_mut().for_each(storable_schema);
        }
    }
}

fn type_title(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `SubmitTask` and `BatchItem` as one variant per task type (discriminated by `type`), each
/// with its payload schema, and the rules `submission::validate` applies.
fn submission_schemas() -> Vec<(String, Value)> {
    let policy = Policy::default();
    let common = json!({
        "priority": {
            "enum": ["low", "normal", "high", "critical", null],
            "description": "`normal` when absent or null; a tenant may be limited to some priorities"
        },
        "max_attempts": {
            "type": ["integer", "null"], "minimum": 1, "maximum": policy.max_attempts_limit,
            "description": format!("Attempts before the task fails for good; default {}", policy.default_max_attempts)
        },
        "timeout_ms": {
            "type": ["integer", "null"], "minimum": policy.min_timeout_ms, "maximum": policy.max_timeout_ms,
            "description": format!("Per-attempt timeout; default {}", policy.default_timeout_ms)
        },
        "labels": {
            "type": "object",
            "maxProperties": policy.max_labels,
            "propertyNames": {"pattern": LABEL_KEY_PATTERN},
            "additionalProperties": {"type": "string", "maxLength": policy.max_label_value_chars, "pattern": NO_NUL}
        },
        "run_at": {
            "type": ["string", "null"], "format": "date-time", "pattern": NO_NUL,
            "description": format!(
                "When to run (RFC 3339). At most 365 days ahead and at most {} s in the past (clock-skew \
                 tolerance: such a task is due at once); otherwise 422. Not together with `delay_ms`. \
                 A task due later starts as `scheduled`.",
                RUN_AT_PAST_TOLERANCE_MS / 1000
            )
        },
        "delay_ms": {
            "type": ["integer", "null"], "minimum": 0, "maximum": MAX_DELAY_MS,
            "description": "Or: milliseconds after submission to run (resolved to `run_at` at submission). Not together with `run_at`."
        }
    });
    // `run_at` and `delay_ms` exclude each other (null counts as absent).
    let not_both = json!({
        "required": ["run_at", "delay_ms"],
        "properties": {"run_at": {"type": "string"}, "delay_ms": {"type": "integer"}}
    });
    let key = json!({
        "type": ["string", "null"], "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY,
        "pattern": IDEMPOTENCY_KEY_PATTERN,
        "description": "This item's own Idempotency-Key (same rules as the header)"
    });
    let mut out = Vec::new();
    let mut single = Vec::new();
    let mut batch = Vec::new();
    let mut single_map = Map::new();
    let mut batch_map = Map::new();
    for (name, mut payload) in payload_schemas() {
        storable_schema(&mut payload);
        let title = type_title(name);
        let payload_name = format!("{title}Payload");
        // A payload with a required member cannot be left out (absent means `{}`).
        let payload_required = payload
            .get("required")
            .and_then(Value::as_array)
            .is_some_and(|r| !r.is_empty());
        out.push((payload_name.clone(), payload));
        let mut properties = common.clone();
        properties["type"] = json!({"type": "string", "enum": [name]});
        properties["payload"] = json!({"$ref": format!("#/components/schemas/{payload_name}")});
        let mut required = vec![json!("type")];
        if payload_required {
            required.push(json!("payload"));
        }
        let variant = json!({
            "type": "object",
            "title": format!("{name} task"),
            "additionalProperties": false,
            "required": required,
            "properties": properties,
            "not": not_both,
        });
        let mut batch_variant = variant.clone();
        batch_variant["properties"]["idempotency_key"] = key.clone();
        let single_name = format!("Submit{title}Task");
        let batch_name = format!("Batch{title}Item");
        single.push(json!({"$ref": format!("#/components/schemas/{single_name}")}));
        batch.push(json!({"$ref": format!("#/components/schemas/{batch_name}")}));
        single_map.insert(
            name.into(),
            json!(format!("#/components/schemas/{single_name}")),
        );
        batch_map.insert(
            name.into(),
            json!(format!("#/components/schemas/{batch_name}")),
        );
        out.push((single_name, variant));
        out.push((batch_name, batch_variant));
    }
    out.push((
        "SubmitTask".into(),
        json!({
            "description": "A task to run: `type` picks the variant, whose `payload` is checked against the type's JSON Schema (schemas/tasks/).",
            "oneOf": single,
            "discriminator": {"propertyName": "type", "mapping": single_map}
        }),
    ));
    out.push((
        "BatchItem".into(),
        json!({
            "description": "One item of a batch: a submission plus its own idempotency key.",
            "oneOf": batch,
            "discriminator": {"propertyName": "type", "mapping": batch_map}
        }),
    ));
    out.push((
        "SubmitBatch".into(),
        json!({
            "type": "object",
            "description": "All tasks are created, or none. Idempotency keys must differ between items.",
            "additionalProperties": false,
            "required": ["tasks"],
            "properties": {
                "tasks": {
                    "type": "array", "minItems": 1, "maxItems": 1000,
                    "items": {"$ref": "#/components/schemas/BatchItem"}
                }
            }
        }),
    ));
    out
}

/// Tenant administration bodies, as `admin` checks them.
fn tenant_schemas() -> Vec<(&'static str, Value)> {
    let limit = json!({"type": ["integer", "null"], "minimum": 0, "maximum": i32::MAX});
    let priorities = json!({
        "type": ["array", "null"],
        "items": {"type": "string", "enum": ["low", "normal", "high", "critical"]},
        "description": "Priorities the tenant may use; null: all"
    });
    vec![
        (
            "Quotas",
            json!({
                "type": "object",
                "additionalProperties": false,
                "description": "Absent: leave as is (no limit for a new tenant); null: remove the limit",
                "properties": {"max_active_tasks": limit, "submissions_per_minute": limit}
            }),
        ),
        (
            "CreateTenant",
            json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["name"],
                "properties": {
                    "name": {
                        "type": "string", "minLength": 1, "maxLength": admin::MAX_TENANT_NAME,
                        "pattern": TENANT_NAME_PATTERN,
                        "description": "Unique; no control characters, no space first or last"
                    },
                    "quotas": {"$ref": "#/components/schemas/Quotas"},
                    "allowed_priorities": priorities
                }
            }),
        ),
        (
            "UpdateTenant",
            json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "quotas": {"$ref": "#/components/schemas/Quotas"},
                    "allowed_priorities": priorities
                }
            }),
        ),
    ]
}

/// The schema of a query or header parameter, as the handlers check it.
fn parameter_schema(name: &str, location: &str) -> Option<Value> {
    Some(match (location, name) {
        ("query", "limit") => {
            json!({"type": "integer", "minimum": 1, "maximum": 500, "default": 50})
        }
        ("query", "status") => {
            json!({"type": "string", "enum": TaskStatus::ALL.map(TaskStatus::as_str)})
        }
        ("query", "priority") => {
            json!({"type": "string", "enum": Priority::ALL.map(Priority::as_str)})
        }
        ("query", "type") => json!({"type": "string", "pattern": NO_NUL}),
        ("query", "name") => json!({
            "type": "string", "minLength": 1, "maxLength": admin::MAX_TENANT_NAME,
            "pattern": TENANT_NAME_PATTERN
        }),
        ("query", "created_after") => json!({"type": "string", "format": "date-time"}),
        ("query", "cursor") => json!({
            "type": "string", "pattern": tasks::CURSOR_PATTERN,
            "description": "`next_cursor` of the previous page, unchanged"
        }),
        ("header", "Idempotency-Key") => json!({
            "type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY,
            "pattern": IDEMPOTENCY_KEY_PATTERN
        }),
        _ => return None,
    })
}

fn complete_operation(path: &str, op: &mut Value) {
    let mut locations = Vec::new();
    if let Some(parameters) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for parameter in parameters.iter_mut() {
            let name = parameter["name"].as_str().unwrap_or_default().to_owned();
            let location = parameter["in"].as_str().unwrap_or_default().to_owned();
            if let Some(schema) = parameter_schema(&name, &location) {
                parameter["schema"] = schema;
            }
            locations.push(location);
        }
    }
    let secured = op.get("security").is_some();
    let has_body = op.get("requestBody").is_some();
    let uses_database = !matches!(path, "/health/live");
    if path == "/v1/tasks/{id}/cancel" {
        op["requestBody"] = json!({
            "description": "Optional: no body, an empty one, `null`, `{}` and `{\"reason\": null}` all mean no reason",
            "required": false,
            "content": {"application/json": {"schema": {
                "oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/CancelTask"}]
            }}}
        });
    }
    let statuses = ErrorStatuses {
        unauthorized: secured.then_some("Missing, unknown or revoked credentials"),
        unavailable: uses_database.then_some(
            "The database cannot serve now; nothing was recorded; retry after Retry-After",
        ),
        body: has_body.then_some(BodyErrors {
            too_large: "Body larger than the limit (TASKFLOW_MAX_BODY_BYTES)",
            unprocessable: "Body has unknown fields or invalid values",
        }),
        not_found: locations
            .iter()
            .any(|l| l == "path")
            .then_some("No such resource (also: a malformed id)"),
        bad_parameter: locations
            .iter()
            .any(|l| l == "query" || l == "header")
            .then_some("Invalid query or header parameter"),
        internal: "Internal error; nothing was recorded",
    };
    openapi::complete_errors(op, &statuses);
}

#[get("/openapi.json")]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(document())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Swagger UI (swagger-ui-dist 5.35.0 from npm, `static/swagger-ui/`), compiled into the binary
/// so the reference works offline; "Authorize" takes an API key (or the admin token) and "Try it
/// out" calls this service with it. Without scripts the page still lists every operation.
#[get("/docs")]
pub async fn docs_page() -> HttpResponse {
    let api = document();
    let mut rows = String::new();
    if let Some(paths) = api["paths"].as_object() {
        for (path, item) in paths {
            for method in METHODS {
                let Some(op) = item.get(method) else {
                    continue;
                };
                let summary = op["summary"]
                    .as_str()
                    .or(op["description"].as_str())
                    .unwrap_or_default();
                rows.push_str(&format!(
                    "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>\n",
                    method.to_uppercase(),
                    escape(path),
                    escape(summary)
                ));
            }
        }
    }
    let title = escape(api["info"]["title"].as_str().unwrap_or_default());
    let html = format!(
        "<!doctype html><html><head><meta charset=utf-8><title>{title}</title>\
         <link rel=stylesheet href=\"/docs/swagger-ui.css\">\
         <style>noscript table{{font-family:sans-serif;margin:2rem}}noscript td{{padding:.3rem .8rem;border-bottom:1px solid #ddd}}</style></head>\
         <body><div id=swagger-ui></div>\
         <noscript><h1>{title}</h1><p>Machine-readable: <a href=\"/openapi.json\">/openapi.json</a>. \
         Authenticate with <code>Authorization: Bearer &lt;api key&gt;</code>.</p><table>{rows}</table></noscript>\
         <script src=\"/docs/swagger-ui-bundle.js\"></script>\
         <script>window.ui = SwaggerUIBundle({{url: '/openapi.json', dom_id: '#swagger-ui', \
         deepLinking: true, persistAuthorization: true, tryItOutEnabled: true, \
         displayRequestDuration: true, filter: true}});</script></body></html>"
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html)
}

const SWAGGER_UI_JS: &[u8] = include_bytes!("../../static/swagger-ui/swagger-ui-bundle.js");
const SWAGGER_UI_CSS: &[u8] = include_bytes!("../../static/swagger-ui/swagger-ui.css");

#[get("/docs/swagger-ui-bundle.js")]
pub async fn swagger_ui_js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(SWAGGER_UI_JS)
}

#[get("/docs/swagger-ui.css")]
pub async fn swagger_ui_css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(SWAGGER_UI_CSS)
}

#[cfg(test)]
mod tests {
    use taskflow_platform::http::openapi::PROBLEM;

    use super::*;

    fn operations() -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, item) in document()["paths"].as_object().expect("paths") {
            for method in METHODS {
                if let Some(op) = item.get(method) {
                    out.push((path.clone(), method.to_owned(), op.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn every_error_is_a_documented_problem() {
        for (path, method, op) in operations() {
            let responses = op["responses"].as_object().expect("responses");
            if op.get("security").is_some() {
                assert!(responses.contains_key("401"), "{method} {path}: 401");
            }
            if op.get("requestBody").is_some() {
                for status in ["400", "413", "415", "422"] {
                    assert!(responses.contains_key(status), "{method} {path}: {status}");
                }
            }
            assert!(responses.contains_key("500"), "{method} {path}: 500");
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    assert!(
                        response["content"][PROBLEM].is_object(),
                        "{method} {path} {status} is not a problem document"
                    );
                }
            }
        }
    }

    /// The rebuild routes are documented as the platform serves them, and the link from a
    /// started job to its status names an operation the document has.
    #[test]
    fn the_rebuild_routes_and_job_are_the_platforms() {
        let doc = document();
        let status = &doc["paths"]["/v1/admin/projections/rebuild/{job_id}"]["get"];
        let started = &doc["paths"]["/v1/admin/projections/rebuild"]["post"]["responses"]["202"];
        assert!(status["operationId"].is_string(), "{status}");
        assert_eq!(
            started["links"]["RebuildStatus"]["operationId"],
            status["operationId"]
        );
        assert_eq!(
            doc["components"]["schemas"]["RebuildJob"],
            rebuild::openapi::job_schema("tasks")
        );
    }

    #[test]
    fn bounds_are_in_the_schema_not_only_in_prose() {
        let list = &document()["paths"]["/v1/tasks"]["get"]["parameters"];
        let limit = list
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == "limit")
            .expect("limit");
        assert_eq!(limit["schema"]["minimum"], 1);
        assert_eq!(limit["schema"]["maximum"], 500);
        let submit = &document()["paths"]["/v1/tasks"]["post"]["parameters"];
        let key = submit
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == "Idempotency-Key")
            .expect("key");
        assert_eq!(key["schema"]["maxLength"], 255);
        assert_eq!(key["schema"]["minLength"], 1);
    }

    /// Every string a client sends (in a body) is declared free of U+0000.
    #[test]
    fn request_strings_exclude_nul() {
        fn walk(schema: &Value, at: &str, schemas: &Value, seen: &mut Vec<String>) {
            if let Some(reference) = schema["$ref"].as_str() {
                let name = reference.rsplit('/').next().unwrap_or_default().to_owned();
                if !seen.contains(&name) {
                    seen.push(name.clone());
                    walk(&schemas[&name], &name, schemas, seen);
                }
                return;
            }
            let types = match &schema["type"] {
                Value::String(t) => vec![t.clone()],
                Value::Array(ts) => ts
                    .iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect(),
                _ => vec![],
            };
            if types.iter().any(|t| t == "string") && schema.get("enum").is_none() {
                let pattern = schema["pattern"].as_str().unwrap_or_default();
                assert!(
                    pattern.contains("\\u0000")
                        || pattern == IDEMPOTENCY_KEY_PATTERN
                        || pattern == LABEL_KEY_PATTERN,
                    "{at}: string without a NUL-free pattern: {schema}"
                );
            }
            if types.iter().any(|t| t == "object")
                && schema
                    .get("additionalProperties")
                    .is_some_and(|a| a != &Value::Bool(false))
            {
                assert!(
                    schema["propertyNames"]["pattern"].is_string(),
                    "{at}: free member names"
                );
            }
            for key in ["properties"] {
                if let Some(members) = schema[key].as_object() {
                    for (name, member) in members {
                        walk(member, &format!("{at}.{name}"), schemas, seen);
                    }
                }
            }
            for key in ["additionalProperties", "items"] {
                if schema[key].is_object() {
                    walk(&schema[key], &format!("{at}[]"), schemas, seen);
                }
            }
            for key in ["oneOf", "anyOf", "allOf"] {
                if let Some(branches) = schema[key].as_array() {
                    for branch in branches {
                        walk(branch, at, schemas, seen);
                    }
                }
            }
        }
        let schemas = &document()["components"]["schemas"];
        for name in [
            "SubmitTask",
            "SubmitBatch",
            "CancelTask",
            "CreateTenant",
            "UpdateTenant",
        ] {
            walk(
                &json!({"$ref": format!("#/components/schemas/{name}")}),
                name,
                schemas,
                &mut Vec::new(),
            );
        }
    }
}
