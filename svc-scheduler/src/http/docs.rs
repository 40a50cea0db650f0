//! `GET /openapi.json`: svc-scheduler's API as OpenAPI 3.1.
//!
//! The paths, parameters and success answers are derived by utoipa from the handlers
//! (`schedules.rs`); this module adds what the derive cannot know, so that the document states
//! what the server does (`checks/schemathesis-check.sh` fuzzes the running service against it):
//! - the bodies as JSON Schemas with their real rules: the name, one `spec` variant per kind
//!   (`cron` in an IANA zone, `every`, `at`), the durations, the overlap policies, and one task
//!   template variant per task type with that type's payload schema (`schemas/tasks/`);
//! - every status an operation can answer, errors as `application/problem+json`: 401 (every
//!   `/v1` route), 400/413/415/422 where a body is read, 404 where a path names a schedule, 400
//!   for query parameters, 503 + Retry-After when the database cannot serve, 500 otherwise;
//! - that no string may hold U+0000, which the database cannot store (422);
//! - the operator's projection rebuild (`/v1/admin/projections/rebuild`, the platform's routes
//!   and job schema, behind the admin token).
//!
//! Rules that depend on the clock (an `at` in the past, a window that has ended, `backfill`'s
//! `to` in the future) or on stored state (a name taken: 409) are described, not expressed.

use std::sync::OnceLock;

use actix_web::dev::ResourceDef;
use actix_web::{HttpResponse, get};
use serde_json::{Value, json};
use taskflow_platform::http::openapi::{self, BodyErrors, ErrorStatuses, NO_NUL, ProblemList};
use taskflow_platform::rebuild::{self, Projection};
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

use super::schedules;
use crate::domain::definition::{DEFAULT_CATCHUP, MAX_NAME_CHARS, MAX_NOTE_CHARS};
use crate::domain::template::{
    MAX_ATTEMPTS, MAX_LABEL_VALUE_CHARS, NEW_LABEL_KEY_PATTERN, NEW_MAX_LABELS, TIMEOUT_MS,
};
use crate::service::rebuild::Schedules;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "TaskFlow schedules API",
        description = "Run tasks on timetables: cron expressions in IANA time zones, fixed \
            intervals and one-off instants, each instant fired exactly once. Authenticate with a \
            tenant's API key (`Authorization: Bearer tfk_...`), the same key svc-tasks takes. \
            Every error is an RFC 9457 application/problem+json document with a stable `type` \
            (urn:taskflow:problem:<slug>); invalid schedules list every problem in `problems` as \
            JSON pointers into the body. A method a path does not support is 405 with `Allow`, \
            an unknown path 404. No string may contain U+0000 (NUL)."
    ),
    paths(
        schedules::create, schedules::list, schedules::get, schedules::patch, schedules::delete,
        schedules::pause, schedules::resume, schedules::trigger, schedules::backfill,
        schedules::occurrences,
    ),
    modifiers(&Security)
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "api_key",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
    }
}

/// What `char::is_whitespace` (and so `str::trim`) counts as white space.
const WHITE_SPACE: &str =
    "\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

/// The served document (built once).
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let derived = serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|_| json!({}));
        with_admin(complete(derived))
    })
}

/// The projection rebuild's routes (the platform's), behind the admin token; their answers
/// are the platform's, not completed like the tenants' routes.
fn with_admin(mut doc: Value) -> Value {
    let paths = rebuild::openapi::paths(
        "the schedules and their occurrences from the schedules' log (their lifecycle events and \
         what became of their instants) and the runs' endings; occurrences retention has \
         pruned are not restored",
    );
    if let (Some(into), Value::Object(admin)) = (doc["paths"].as_object_mut(), paths) {
        into.extend(admin);
    }
    doc["components"]["securitySchemes"]["admin_token"] = rebuild::openapi::security_scheme();
    doc["components"]["schemas"]["RebuildJob"] = rebuild::openapi::job_schema(Schedules::UNIT);
    doc
}

/// The `Allow` value for `path` when some route serves it (the document's paths, the document
/// itself and /metrics).
pub fn allowed_methods(path: &str) -> Option<&'static str> {
    static ROUTES: OnceLock<Vec<(ResourceDef, String)>> = OnceLock::new();
    let routes = ROUTES.get_or_init(|| {
        let mut routes: Vec<(ResourceDef, String)> = openapi::routes(document())
            .into_iter()
            .map(|(path, methods)| (ResourceDef::new(path.as_str()), methods.join(", ")))
            .collect();
        for path in ["/openapi.json", "/metrics"] {
            routes.push((ResourceDef::new(path), "GET".into()));
        }
        routes
    });
    routes
        .iter()
        .find(|(route, _)| route.is_match(path))
        .map(|(_, allow)| allow.as_str())
}

#[get("/openapi.json")]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(document())
}

fn complete(mut doc: Value) -> Value {
    let schemas = &mut doc["components"]["schemas"];
    for (name, schema) in request_schemas().into_iter().chain(answer_schemas()) {
        schemas[name] = schema;
    }
    doc["paths"]["/health/live"] = health("live", "The process answers: `{\"status\": \"ok\"}`");
    doc["paths"]["/health/ready"] = health(
        "ready",
        "The database, Kafka and the schema registry answer: `{\"status\": \"ready\", \"checks\": {...}}`",
    );
    add_links(&mut doc);
    openapi::for_each_operation(&mut doc, |path, _, op| complete_operation(path, op));
    doc
}

fn health(operation: &str, description: &str) -> Value {
    let mut responses = json!({"200": {
        "description": description,
        "content": {"application/json": {"schema": {"type": "object"}}}
    }});
    if operation == "ready" {
        responses["503"] =
            json!({"description": "A dependency does not answer; `checks` says which"});
    }
    json!({"get": {"tags": ["health"], "operationId": operation, "responses": responses}})
}

/// What a created schedule leads to (OpenAPI links; schemathesis follows them statefully).
fn add_links(doc: &mut Value) {
    let id = json!({"id": "$response.body#/id"});
    let links: serde_json::Map<String, Value> = [
        "get_schedule",
        "update_schedule",
        "delete_schedule",
        "pause_schedule",
        "resume_schedule",
        "trigger_schedule",
        "backfill_schedule",
        "schedule_occurrences",
    ]
    .into_iter()
    .map(|op| (op.to_owned(), json!({"operationId": op, "parameters": id})))
    .collect();
    let created = &mut doc["paths"]["/v1/schedules"]["post"]["responses"]["201"];
    if created.is_object() {
        created["links"] = Value::Object(links);
    }
}

/// `^(?:a|b|c)$`
fn one_of(options: &[String]) -> String {
    format!("^(?:{})$", options.join("|"))
}

/// The words in any letter case (`[Ll][Oo][Ww]`), as the server compares them.
fn any_case(word: &str) -> String {
    word.chars()
        .map(|c| format!("[{}{}]", c.to_ascii_uppercase(), c))
        .collect()
}

/// A crontab field the document admits: `*`, `*/step` or a list of up to three values.
pub(crate) struct CronField {
    pub values: Vec<String>,
    pub steps: std::ops::RangeInclusive<u32>,
}

impl CronField {
    fn numbers(range: std::ops::RangeInclusive<u32>) -> Self {
        Self {
            values: range.clone().map(|n| n.to_string()).collect(),
            steps: 1..=*range.end(),
        }
    }

    fn pattern(&self) -> String {
        let steps: Vec<String> = self.steps.clone().map(|n| n.to_string()).collect();
        let value = format!("(?:{})", self.values.join("|"));
        format!(
            "(?:\\*(?:/(?:{}))?|{value}(?:,{value}){{0,2}})",
            steps.join("|")
        )
    }
}

/// Seconds (6-field form only), minute, hour, day of month, month, day of week: a subset of what
/// the server takes (days of the month stop at 28, so every expression fires every year).
pub(crate) fn cron_fields() -> [CronField; 6] {
    let mut days_of_week = CronField::numbers(0..=7);
    days_of_week.steps = 1..=7;
    days_of_week
        .values
        .extend(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"].map(String::from));
    [
        CronField::numbers(0..=59),
        CronField::numbers(0..=59),
        CronField::numbers(0..=23),
        CronField::numbers(1..=28),
        CronField::numbers(1..=12),
        days_of_week,
    ]
}

pub(crate) const CRON_SHORTHANDS: [&str; 7] = [
    "@hourly",
    "@daily",
    "@midnight",
    "@weekly",
    "@monthly",
    "@yearly",
    "@annually",
];

fn cron_pattern() -> String {
    let fields = cron_fields().map(|f| f.pattern());
    format!(
        "^(?:{}|(?:{} )?{})$",
        CRON_SHORTHANDS.join("|"),
        fields[0],
        fields[1..].join(" ")
    )
}

/// ISO-8601 durations as `parse_duration` reads them (weeks, days, then after `T` hours, minutes,
/// seconds with an optional fraction; any letter case), each number `number`.
fn duration_pattern(number: &str) -> String {
    let unit = |u: char| format!("{number}[{}{}]", u, u.to_ascii_lowercase());
    let seconds = format!("{number}(?:[.,][0-9]{{1,9}})?[Ss]");
    let date = format!("(?:{w}(?:{d})?|{d})", w = unit('W'), d = unit('D'));
    let time = format!(
        "[Tt](?:{h}(?:{m})?(?:{s})?|{m}(?:{s})?|{s})",
        h = unit('H'),
        m = unit('M'),
        s = seconds
    );
    format!("^[Pp](?:{date}(?:{time})?|{time})$")
}

fn date_time(description: &str) -> Value {
    json!({"type": ["string", "null"], "format": "date-time", "description": description})
}

/// A payload schema from `schemas/tasks/` with "no U+0000" added to every string and every free
/// member name (`TaskTemplate::check` refuses those).
fn storable(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    object.remove("$schema");
    if object.get("type") == Some(&json!("string")) {
        let pattern = match object.get("pattern").and_then(Value::as_str) {
            None => NO_NUL.to_owned(),
            // A prefix rule ("^https?://"): the rest must be free of NUL too.
            Some(p) if !p.ends_with('$') => format!("{p}[^\\u0000]*$"),
            Some(p) => p.to_owned(),
        };
        object.insert("pattern".into(), pattern.into());
    }
    if object.get("type") == Some(&json!("object"))
        && object.get("additionalProperties") != Some(&json!(false))
    {
        object.insert("propertyNames".into(), json!({"pattern": NO_NUL}));
    }
    if let Some(Value::Object(members)) = object.get_mut("properties") {
        members.values_mut().for_each(storable);
    }
    if let Some(inner) = object.get_mut("additionalProperties") {
        storable(inner);
    }
}

fn request_schemas() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut templates = Vec::new();
    for (name, text) in taskflow_schemas::TASK_TYPES {
        let mut payload: Value = serde_json::from_str(text).unwrap_or_else(|_| json!({}));
        storable(&mut payload);
        // Left out, the payload is `{}`: required when that does not do.
        let payload_required = payload["required"]
            .as_array()
            .is_some_and(|r| !r.is_empty());
        let payload_name = format!("{name}_payload");
        out.push((payload_name.clone(), payload));
        let mut required = vec!["type"];
        if payload_required {
            required.push("payload");
        }
        let template = format!("{name}_task");
        out.push((
            template.clone(),
            json!({
                "type": "object",
                "title": format!("a {name} task"),
                "additionalProperties": false,
                "required": required,
                "properties": {
                    "type": {"enum": [name]},
                    "payload": {"$ref": format!("#/components/schemas/{payload_name}")},
                    "priority": {
                        "type": "string",
                        "pattern": one_of(&["low", "normal", "high", "critical"].map(any_case)),
                        "description": "low, normal (default), high or critical, in any letter case"
                    },
                    "max_attempts": {
                        "type": "integer", "minimum": MAX_ATTEMPTS.start(), "maximum": MAX_ATTEMPTS.end(),
                        "description": "default 3"
                    },
                    "timeout_ms": {
                        "type": "integer", "minimum": TIMEOUT_MS.start(), "maximum": TIMEOUT_MS.end(),
                        "description": "per attempt, default 30000"
                    },
                    "labels": {
                        "type": "object",
                        "maxProperties": NEW_MAX_LABELS,
                        "propertyNames": {"pattern": NEW_LABEL_KEY_PATTERN},
                        "additionalProperties": {"type": "string", "maxLength": MAX_LABEL_VALUE_CHARS, "pattern": NO_NUL}
                    }
                }
            }),
        ));
        templates.push(json!({"$ref": format!("#/components/schemas/{template}")}));
    }
    out.push((
        "TaskTemplate".into(),
        json!({
            "description": "The task each instant starts, checked at creation as svc-tasks would check a submission: `type` picks the variant, whose `payload` must match the type's JSON Schema (schemas/tasks/)",
            "oneOf": templates
        }),
    ));
    let zones: Vec<Value> = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| tz.name().into())
        .chain([Value::Null])
        .collect();
    let only = |kind: &str, rule: Value| {
        let mut properties = json!({"cron": {"type": "null"}, "timezone": {"type": "null"}, "every": {"type": "null"}, "at": {"type": "null"}});
        properties[kind] = rule;
        properties
    };
    let mut cron = only(
        "cron",
        json!({
            "type": "string", "pattern": cron_pattern(),
            "description": "5 fields (minute hour day-of-month month day-of-week, as crontab(5): day of week 0 and 7 are Sunday, \
                names allowed; when both day fields are restricted either matches), 6 with seconds first, or @hourly, @daily, \
                @weekly, @monthly, @yearly. The pattern is the part guaranteed to be accepted; the server also takes ranges \
                (`MON-FRI`, `9-17`), steps on ranges, `?`, days 29-31 and longer lists, and refuses what never fires."
        }),
    );
    cron["timezone"] =
        json!({"enum": zones, "description": "IANA zone the fields are read in; default UTC"});
    out.push((
        "Spec".into(),
        json!({
            "description": "When it fires: exactly one of `cron`, `every`, `at` (the others absent or null)",
            "oneOf": [
                {"type": "object", "title": "cron", "additionalProperties": false, "required": ["cron"], "properties": cron},
                {"type": "object", "title": "every", "additionalProperties": false, "required": ["every"], "properties": only("every", json!({
                    "type": "string", "pattern": duration_pattern("0{0,3}[1-9][0-9]{0,3}"),
                    "description": "Fixed interval (ISO-8601 duration, e.g. PT30S), counted from start_at or creation. At most \
                        TASKFLOW_SCHEDULER_MAX_PER_SECOND (1) fires a second. The pattern (every number at least 1) is the part \
                        guaranteed to be accepted; PT0.5S is refused at a limit of 1, PT1M0S accepted."
                }))},
                {"type": "object", "title": "at", "additionalProperties": false, "required": ["at"], "properties": only("at", json!({
                    "type": "string", "format": "date-time", "description": "Once, at this instant (in the future, within start_at..end_at)"
                }))}
            ]
        }),
    ));
    let duration = |description: &str| json!({"type": ["string", "null"], "pattern": duration_pattern("[0-9]{1,4}"), "description": description});
    let fields = json!({
        "name": {
            "type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS,
            "pattern": format!("^[^\\u0000]*[^\\u0000{WHITE_SPACE}][^\\u0000]*$"),
            "description": "Unique per tenant (compared without leading and trailing white space); not only white space"
        },
        "task": {"$ref": "#/components/schemas/TaskTemplate"},
        "spec": {"$ref": "#/components/schemas/Spec"},
        "start_at": date_time("No instant before; `every` counts from here. end_at may not be before it"),
        "end_at": date_time("No instant after; the schedule must fire at least once after now"),
        "jitter": duration("Each run starts up to this much after its instant (deterministic per instant, below half the gap to the next); default none"),
        "overlap": {
            "enum": ["skip", "buffer_one", "buffer_all", "cancel_other", "allow_all"],
            "description": "What an instant does while the previous one's task has not ended; default skip"
        },
        "catchup_window": duration(&format!("Instants later than this when the scheduler gets to them (after downtime) are recorded as missed; default {DEFAULT_CATCHUP}")),
        "paused": {"type": "boolean", "description": "Created paused; default false"},
        "note": {"type": ["string", "null"], "maxLength": MAX_NOTE_CHARS, "pattern": NO_NUL, "description": "Why it is paused"}
    });
    out.push((
        "NewSchedule".into(),
        json!({
            "type": "object", "additionalProperties": false,
            "required": ["name", "task", "spec"],
            "properties": fields.clone()
        }),
    ));
    out.push((
        "ScheduleChange".into(),
        json!({
            "type": "object", "additionalProperties": false,
            "description": "The fields to change (a nullable field set to null is reset); the result is checked like a new schedule and planned again from now",
            "properties": fields
        }),
    ));
    out.push((
        "Pause".into(),
        json!({
            "type": ["object", "null"], "additionalProperties": false,
            "properties": {"note": {"type": ["string", "null"], "maxLength": MAX_NOTE_CHARS, "pattern": NO_NUL}}
        }),
    ));
    out.push((
        "Backfill".into(),
        json!({
            "type": "object", "additionalProperties": false, "required": ["from", "to"],
            "description": "Instants in (from, to]; `to` after `from` and not in the future; at most 1,000 instants",
            "properties": {
                "from": {"type": "string", "format": "date-time"},
                "to": {"type": "string", "format": "date-time"}
            }
        }),
    ));
    out
}

fn answer_schemas() -> Vec<(String, Value)> {
    let instant = json!({"type": "string", "format": "date-time"});
    let maybe_instant = json!({"type": ["string", "null"], "format": "date-time"});
    let id = json!({"type": "string", "format": "uuid"});
    let maybe_id = json!({"type": ["string", "null"], "format": "uuid"});
    let nullable_string = json!({"type": ["string", "null"]});
    let schedule = json!({
        "type": "object",
        "description": "The definition as given (`task` with its defaults) and what the scheduler plans",
        "required": ["id", "name", "task", "spec", "start_at", "end_at", "jitter", "overlap", "catchup_window", "paused", "note",
                     "next_instant", "next_run_at", "waiting_for_task", "created_at", "updated_at"],
        "properties": {
            "id": id, "name": {"type": "string"},
            "task": {"$ref": "#/components/schemas/TaskTemplate"},
            "spec": {"$ref": "#/components/schemas/Spec"},
            "start_at": maybe_instant, "end_at": maybe_instant,
            "jitter": nullable_string, "catchup_window": nullable_string,
            "overlap": {"enum": ["skip", "buffer_one", "buffer_all", "cancel_other", "allow_all"]},
            "paused": {"type": "boolean"}, "note": nullable_string,
            "next_instant": {"type": ["string", "null"], "format": "date-time", "description": "The next instant to decide; null when it will not fire again"},
            "next_run_at": {"type": ["string", "null"], "format": "date-time", "description": "When that instant runs (instant + jitter)"},
            "waiting_for_task": {"type": ["string", "null"], "format": "uuid", "description": "Set while an instant waits for this task to end (overlap buffer_*)"},
            "created_at": instant, "updated_at": instant
        }
    });
    let occurrence = json!({
        "type": "object",
        "required": ["nominal_time", "outcome", "reason", "task_id", "task_ended", "decided_at"],
        "properties": {
            "nominal_time": instant,
            "outcome": {"enum": ["triggered", "refused", "skipped", "missed"]},
            "reason": {"type": ["string", "null"], "description": "Why skipped, missed or refused (by svc-tasks)"},
            "task_id": maybe_id, "task_ended": {"type": "boolean"}, "decided_at": instant
        }
    });
    let page = |items: &str, cursor: &str, cursor_schema: &Value| {
        json!({
            "type": "object", "required": ["items", cursor],
            "properties": {
                "items": {"type": "array", "items": {"$ref": format!("#/components/schemas/{items}")}},
                cursor: cursor_schema
            }
        })
    };
    vec![
        ("Problem".into(), problem_schema()),
        ("Schedule".into(), schedule),
        (
            "ScheduleList".into(),
            page("Schedule", "next_after", &maybe_id),
        ),
        ("Occurrence".into(), occurrence),
        (
            "OccurrenceList".into(),
            page("Occurrence", "next_before", &maybe_instant),
        ),
        (
            "Triggered".into(),
            json!({"type": "object", "required": ["nominal_time", "task_id"], "properties": {"nominal_time": instant, "task_id": id}}),
        ),
        (
            "Backfilled".into(),
            json!({"type": "object", "required": ["triggered"], "properties": {"triggered": {"type": "integer", "minimum": 0, "maximum": 1000}}}),
        ),
    ]
}

fn problem_schema() -> Value {
    openapi::problem_schema(Some(ProblemList {
        key: "problems",
        description: "Each problem of an invalid schedule, located by a JSON pointer into the request body",
    }))
}

/// The schema of a query parameter, as the handlers check it (`Option<T>` derives nullable).
fn query_schema(name: &str) -> Option<Value> {
    Some(match name {
        "limit" => json!({"type": "integer", "minimum": 1, "maximum": 500, "default": 100}),
        "after" => json!({"type": "string", "format": "uuid"}),
        "before" => json!({"type": "string", "format": "date-time"}),
        _ => return None,
    })
}

fn complete_operation(path: &str, op: &mut Value) {
    let mut locations = Vec::new();
    let parameters = op.get_mut("parameters").and_then(Value::as_array_mut);
    for parameter in parameters.into_iter().flatten() {
        let location = parameter["in"].as_str().unwrap_or_default().to_owned();
        let schema = match location.as_str() {
            "query" => query_schema(parameter["name"].as_str().unwrap_or_default()),
            _ => Some(json!({"type": "string", "format": "uuid"})),
        };
        if let Some(schema) = schema {
            parameter["schema"] = schema;
        }
        locations.push(location);
    }
    if let Some(body) = op.get_mut("requestBody") {
        // Only pause's body may be left out.
        body["required"] = (!path.ends_with("/pause")).into();
    }
    let secured = op.get("security").is_some();
    let has_body = op.get("requestBody").is_some();
    let statuses = ErrorStatuses {
        unauthorized: secured.then_some("Missing, unknown or revoked API key"),
        unavailable: secured.then_some(
            "The database cannot serve now; nothing was changed; retry after Retry-After",
        ),
        body: has_body.then_some(BodyErrors {
            too_large: "Body larger than 64 KiB",
            unprocessable: "Body has unknown fields or values of the wrong type",
        }),
        not_found: locations
            .iter()
            .any(|l| l == "path")
            .then_some("No such schedule (also: a malformed id)"),
        bad_parameter: locations
            .iter()
            .any(|l| l == "query")
            .then_some("Unknown or invalid query parameter"),
        internal: "Internal error",
    };
    openapi::complete_errors(op, &statuses);
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};

    use super::*;
    use crate::domain::options::{Window, validate};
    use crate::domain::spec::{Spec, SpecInput, parse_duration};
    use taskflow_platform::http::openapi::METHODS;

    fn accepted_cron(expression: &str) {
        let spec = Spec::parse(&SpecInput {
            cron: Some(expression.into()),
            timezone: Some("Europe/Berlin".into()),
            ..SpecInput::default()
        })
        .unwrap_or_else(|e| panic!("{expression}: {e}"));
        let now = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
        let window = Window {
            start_at: Some(now),
            end_at: Some(now + Duration::days(4 * 366)),
        };
        validate(&spec, &window, now, now, 1.0).unwrap_or_else(|e| panic!("{expression}: {e}"));
    }

    /// Every value and step the cron pattern admits, in every field, is taken by the server
    /// and fires.
    #[test]
    fn the_cron_pattern_promises_only_what_the_server_takes() {
        let fields = cron_fields();
        for (i, field) in fields.iter().enumerate() {
            let mut items: Vec<String> = field.values.clone();
            items.extend(field.steps.clone().map(|s| format!("*/{s}")));
            items.push(format!(
                "{},{},{}",
                field.values[0], field.values[1], field.values[2]
            ));
            for item in items {
                let mut parts = ["*"; 6];
                parts[i] = &item;
                accepted_cron(&parts.join(" "));
                if i > 0 {
                    accepted_cron(&parts[1..].join(" "));
                }
            }
        }
        CRON_SHORTHANDS.iter().for_each(|s| accepted_cron(s));
        // Both day fields restricted (either matches), names, February the 28th.
        accepted_cron("30 2 28 2 SUN");
        accepted_cron("0 0 28 2 *");
    }

    #[test]
    fn durations_in_the_pattern_parse() {
        for text in [
            "PT1S",
            "p1w2dt3h4m5.5s",
            "P9999W9999DT9999H9999M9999,999999999S",
            "PT0S",
            "P1D",
        ] {
            parse_duration(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
        assert!(cron_pattern().starts_with("^(?:@hourly"));
        assert!(duration_pattern("[0-9]").contains("[Ww]"));
    }

    #[test]
    fn every_error_is_a_problem_and_every_route_is_secured() {
        let paths = document()["paths"].as_object().expect("paths");
        let mut operations = 0;
        for (path, item) in paths {
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                operations += 1;
                let responses = op["responses"].as_object().expect("responses");
                assert!(responses.contains_key("500"), "{method} {path}");
                if path.starts_with("/v1/") {
                    assert!(op["security"].is_array(), "{method} {path}");
                    assert!(responses.contains_key("401"), "{method} {path}");
                    assert!(responses.contains_key("503"), "{method} {path}");
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
        assert_eq!(operations, 14, "the tenants' 10, health 2, the rebuild's 2");
        assert_eq!(allowed_methods("/v1/schedules"), Some("GET, POST"));
        assert_eq!(
            allowed_methods("/v1/schedules/0190a1b2-0000-7000-8000-000000000000"),
            Some("GET, DELETE, PATCH")
        );
        assert_eq!(allowed_methods("/v2"), None);
    }
}
