//! `schedules …` against svc-scheduler.

use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::api::Api;
use crate::cli::{ScheduleCommand, ScheduleCreateArgs};
use crate::config::Settings;
use crate::error::usage;
use crate::input;
use crate::output::{self, field};

fn definition(args: &ScheduleCreateArgs) -> anyhow::Result<Value> {
    if let Some(text) = &args.definition {
        return input::json_arg("--definition", text);
    }
    let mut task = Map::new();
    task.insert(
        "type".into(),
        args.task_type.clone().unwrap_or_default().into(),
    );
    if let Some(p) = &args.payload {
        task.insert("payload".into(), input::json_arg("--payload", p)?);
    }
    if let Some(p) = &args.priority {
        task.insert("priority".into(), p.to_lowercase().into());
    }
    if !args.labels.is_empty() {
        task.insert(
            "labels".into(),
            json!(input::labels("--label", &args.labels)?),
        );
    }
    let spec = match (&args.cron, &args.every, &args.at) {
        (Some(cron), None, None) => {
            json!({"cron": cron, "timezone": args.timezone.clone().unwrap_or_else(|| "UTC".into())})
        }
        (None, Some(every), None) => json!({"every": every}),
        (None, None, Some(at)) => {
            input::time("--at", at)?;
            json!({"at": at})
        }
        _ => {
            return Err(usage(
                "give one of --cron, --every or --at (or --definition)",
            ));
        }
    };
    let mut body = Map::new();
    body.insert("name".into(), args.name.clone().unwrap_or_default().into());
    body.insert("task".into(), Value::Object(task));
    body.insert("spec".into(), spec);
    if let Some(o) = &args.overlap {
        body.insert("overlap".into(), o.clone().into());
    }
    if let Some(j) = &args.jitter {
        body.insert("jitter".into(), j.clone().into());
    }
    if args.paused {
        body.insert("paused".into(), true.into());
    }
    Ok(Value::Object(body))
}

fn spec_text(s: &Value) -> String {
    let spec = s.get("spec").cloned().unwrap_or(Value::Null);
    if let Some(cron) = spec.get("cron") {
        format!(
            "cron {} {}",
            output::cell(Some(cron)),
            field(&spec, "timezone")
        )
    } else if let Some(every) = spec.get("every") {
        format!("every {}", output::cell(Some(every)))
    } else if let Some(at) = spec.get("at") {
        format!("at {}", output::cell(Some(at)))
    } else {
        spec.to_string()
    }
}

fn show_schedule(settings: &Settings, s: &Value) {
    if settings.json() {
        output::json(s);
    } else {
        output::key_values(s);
    }
}

pub async fn run(settings: &Settings, command: &ScheduleCommand) -> anyhow::Result<()> {
    // The history is read from Kafka: no API, no key.
    if let ScheduleCommand::History { id } = command {
        return super::schedule_history::run(settings, *id).await;
    }
    let api = Api::new(&settings.scheduler_url()?, &settings.api_key()?)?;
    match command {
        ScheduleCommand::Create(args) => {
            let body = definition(args)?;
            let created = api.post("/v1/schedules", Some(&body)).await?.body;
            if settings.json() {
                output::json(&created);
            } else {
                println!(
                    "{}  {}  next run {}",
                    field(&created, "id"),
                    spec_text(&created),
                    field(&created, "next_run_at")
                );
            }
        }
        ScheduleCommand::List { limit, after } => {
            let mut query = vec![("limit", limit.to_string())];
            if let Some(a) = after {
                query.push(("after", a.to_string()));
            }
            let request = api.request(Method::GET, "/v1/schedules").query(&query);
            let page = api.send(Method::GET, "/v1/schedules", request).await?.body;
            if settings.json() {
                output::json(&page);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = page
                .get("items")
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .map(|s| {
                            vec![
                                field(s, "id"),
                                field(s, "name"),
                                spec_text(s),
                                field(s, "/task/type"),
                                if s.get("paused").and_then(Value::as_bool) == Some(true) {
                                    "paused".into()
                                } else {
                                    "active".into()
                                },
                                field(s, "next_run_at"),
                            ]
                        })
                        .collect()
                })
                .unwrap_or_default();
            output::table(&["ID", "NAME", "SPEC", "TASK", "STATE", "NEXT RUN"], &rows);
            if let Some(next) = page.get("next_after").and_then(Value::as_str) {
                println!("more: --after {next}");
            }
        }
        ScheduleCommand::Get { id } => {
            show_schedule(settings, &api.get(&format!("/v1/schedules/{id}")).await?);
        }
        ScheduleCommand::Pause { id, note } => {
            let body = json!({"note": note});
            let s = api
                .post(&format!("/v1/schedules/{id}/pause"), Some(&body))
                .await?
                .body;
            show_schedule(settings, &s);
        }
        ScheduleCommand::Resume { id } => {
            let s = api
                .post(&format!("/v1/schedules/{id}/resume"), None)
                .await?
                .body;
            show_schedule(settings, &s);
        }
        ScheduleCommand::Trigger { id } => {
            let answer = api
                .post(&format!("/v1/schedules/{id}/trigger"), None)
                .await?
                .body;
            if settings.json() {
                output::json(&answer);
            } else {
                println!(
                    "triggered: task {} (instant {})",
                    field(&answer, "task_id"),
                    field(&answer, "nominal_time")
                );
            }
        }
        ScheduleCommand::Occurrences { id, limit } => {
            let path = format!("/v1/schedules/{id}/occurrences");
            let request = api
                .request(Method::GET, &path)
                .query(&[("limit", limit.to_string())]);
            let page = api.send(Method::GET, &path, request).await?.body;
            if settings.json() {
                output::json(&page);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = page
                .get("items")
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .map(|o| {
                            vec![
                                field(o, "nominal_time"),
                                field(o, "outcome"),
                                field(o, "task_id"),
                                field(o, "reason"),
                            ]
                        })
                        .collect()
                })
                .unwrap_or_default();
            output::table(&["INSTANT", "OUTCOME", "TASK", "REASON"], &rows);
        }
        ScheduleCommand::Delete { id } => {
            api.delete(&format!("/v1/schedules/{id}")).await?;
            if settings.json() {
                output::json(&json!({"deleted": id}));
            } else {
                println!("{id}  deleted");
            }
        }
        ScheduleCommand::History { .. } => {}
    }
    Ok(())
}
