//! `submit` (one task), `get`, `list`, `events`, `cancel` against svc-tasks.

use reqwest::Method;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::api::Api;
use crate::cli::{ListArgs, SubmitArgs};
use crate::config::Settings;
use crate::input;
use crate::output::{self, field, short};

pub fn tasks_api(settings: &Settings) -> anyhow::Result<Api> {
    Api::new(&settings.api_url()?, &settings.api_key()?)
}

/// The submission body the flags describe (without the task type when `task_type` is None).
pub fn submission(
    args: &SubmitArgs,
    task_type: Option<&str>,
) -> anyhow::Result<Map<String, Value>> {
    let mut body = Map::new();
    if let Some(t) = task_type {
        body.insert("type".into(), t.into());
    }
    if let Some(payload) = &args.payload {
        body.insert("payload".into(), input::json_arg("--payload", payload)?);
    }
    if let Some(p) = &args.priority {
        body.insert("priority".into(), p.to_lowercase().into());
    }
    if let Some(n) = args.max_attempts {
        body.insert("max_attempts".into(), n.into());
    }
    if let Some(t) = &args.timeout {
        body.insert("timeout_ms".into(), input::millis("--timeout", t)?.into());
    }
    if !args.labels.is_empty() {
        body.insert(
            "labels".into(),
            json!(input::labels("--label", &args.labels)?),
        );
    }
    if let Some(at) = &args.run_at {
        input::time("--run-at", at)?;
        body.insert("run_at".into(), at.clone().into());
    }
    if let Some(d) = &args.delay {
        body.insert("delay_ms".into(), input::millis("--delay", d)?.into());
    }
    Ok(body)
}

/// Submits one task; returns its id.
pub async fn submit_one(
    settings: &Settings,
    args: &SubmitArgs,
    task_type: &str,
) -> anyhow::Result<Uuid> {
    let api = tasks_api(settings)?;
    let body = Value::Object(submission(args, Some(task_type))?);
    let mut request = api.request(Method::POST, "/v1/tasks").json(&body);
    if let Some(key) = &args.idempotency_key {
        request = request.header("Idempotency-Key", key);
    }
    let answer = api.send(Method::POST, "/v1/tasks", request).await?;
    let replayed = answer.headers.contains_key("idempotent-replayed");
    let task = answer.body;
    let id = task
        .get("id")
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| anyhow::anyhow!("svc-tasks answered 201 without a task id: {task}"))?;
    if settings.json() {
        output::json_line(&task);
    } else if replayed {
        println!(
            "{id}  (existing task: same Idempotency-Key and body)  {}",
            field(&task, "status")
        );
    } else {
        println!("{id}  {}", field(&task, "status"));
    }
    Ok(id)
}

pub async fn get(settings: &Settings, id: Uuid) -> anyhow::Result<()> {
    let task = tasks_api(settings)?.get(&format!("/v1/tasks/{id}")).await?;
    if settings.json() {
        output::json(&task);
    } else {
        output::key_values(&task);
    }
    Ok(())
}

const TASK_COLUMNS: [&str; 7] = [
    "ID", "TYPE", "STATUS", "PRIORITY", "PROGRESS", "ATTEMPTS", "CREATED",
];

fn task_row(t: &Value) -> Vec<String> {
    let percent = field(t, "/progress/percent");
    vec![
        field(t, "id"),
        field(t, "type"),
        field(t, "status"),
        field(t, "priority"),
        if percent.is_empty() {
            String::new()
        } else {
            format!("{percent}%")
        },
        format!("{}/{}", field(t, "attempts"), field(t, "max_attempts")),
        field(t, "created_at"),
    ]
}

pub async fn list(settings: &Settings, args: &ListArgs) -> anyhow::Result<()> {
    let mut query: Vec<(&str, String)> = vec![("limit", args.limit.to_string())];
    for (name, value) in [
        ("status", &args.status),
        ("type", &args.task_type),
        ("priority", &args.priority),
        ("created_after", &args.created_after),
        ("cursor", &args.cursor),
    ] {
        if let Some(v) = value {
            query.push((name, v.clone()));
        }
    }
    let api = tasks_api(settings)?;
    let request = api.request(Method::GET, "/v1/tasks").query(&query);
    let page = api.send(Method::GET, "/v1/tasks", request).await?.body;
    if settings.json() {
        output::json(&page);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = page
        .get("tasks")
        .and_then(Value::as_array)
        .map(|tasks| tasks.iter().map(task_row).collect())
        .unwrap_or_default();
    output::table(&TASK_COLUMNS, &rows);
    if let Some(next) = page.get("next_cursor").and_then(Value::as_str) {
        println!("more: --cursor {next}");
    }
    Ok(())
}

pub async fn events(settings: &Settings, id: Uuid) -> anyhow::Result<()> {
    let history = tasks_api(settings)?
        .get(&format!("/v1/tasks/{id}/events"))
        .await?;
    if settings.json() {
        output::json(&history);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = history
        .get("events")
        .and_then(Value::as_array)
        .map(|events| {
            events
                .iter()
                .map(|e| {
                    vec![
                        field(e, "version"),
                        field(e, "occurred_at"),
                        field(e, "type"),
                        short(&event_detail(e), 80),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    output::table(&["VERSION", "OCCURRED", "TYPE", "DETAIL"], &rows);
    Ok(())
}

/// The fields of an event a person looks for first.
fn event_detail(e: &Value) -> String {
    let data = e.get("data").cloned().unwrap_or(Value::Null);
    let mut parts = Vec::new();
    for key in [
        "attempt",
        "percent",
        "message",
        "error",
        "reason",
        "result_json",
        "instance",
    ] {
        let v = field(&data, key);
        if !v.is_empty() {
            parts.push(format!("{key}={v}"));
        }
    }
    if let Some(labels) = data
        .get("labels")
        .filter(|l| l.as_object().is_some_and(|m| !m.is_empty()))
    {
        parts.push(format!("labels={labels}"));
    }
    parts.join(" ")
}

pub async fn cancel(settings: &Settings, id: Uuid, reason: Option<&str>) -> anyhow::Result<()> {
    let body = reason.map(|r| json!({"reason": r}));
    let answer = tasks_api(settings)?
        .post(&format!("/v1/tasks/{id}/cancel"), body.as_ref())
        .await?;
    if settings.json() {
        output::json(&answer.body);
    } else {
        println!("{id}  cancellation requested ({})", answer.status.as_u16());
    }
    Ok(())
}
