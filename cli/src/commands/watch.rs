//! `watch ID` / `watch --all` (and `submit --wait`): svc-notify's SSE feed as progress bars,
//! or as lines when stderr is not a terminal, or as JSON lines with `--output json`.
//! A dropped connection is resumed with `Last-Event-ID`, so nothing is missed or repeated.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::time::Instant;
use uuid::Uuid;

use crate::api::{Api, problem};
use crate::cli::WatchArgs;
use crate::commands::tasks::tasks_api;
use crate::config::Settings;
use crate::error::{failed, usage};
use crate::output::{self, field};
use crate::sse::{SseEvent, SseParser};

/// How long a just-submitted task may be unknown to svc-notify (it learns of it from Kafka).
const APPEAR_WITHIN: Duration = Duration::from_secs(30);
/// Give up when no connection could be made for this long.
const RECONNECT_FOR: Duration = Duration::from_secs(120);
/// svc-notify sends a keep-alive every 15 s; silence for longer means a dead connection.
const SILENCE: Duration = Duration::from_secs(45);

enum Flow {
    Continue,
    Stop,
}

/// How a followed stream ended.
enum Ended {
    /// The handler said stop, or the server ended the stream after the task's end.
    Done,
    /// 204 on reconnect: the task had ended before.
    AlreadyEnded,
}

/// Reads `path` until the handler stops or the server ends it, reconnecting after drops.
async fn follow(
    api: &Api,
    path: &str,
    query: &[(String, String)],
    wait_to_appear: bool,
    mut handle: impl FnMut(&SseEvent) -> anyhow::Result<Flow>,
) -> anyhow::Result<Ended> {
    let mut last_id: Option<String> = None;
    let mut retry = Duration::from_millis(500);
    let started = Instant::now();
    let mut last_connected = Instant::now();
    loop {
        let mut request = api
            .request(Method::GET, path)
            .query(query)
            .header("Accept", "text/event-stream");
        if let Some(id) = &last_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) if last_connected.elapsed() < RECONNECT_FOR => {
                eprintln!("stream: {e}; reconnecting in {retry:?}");
                tokio::time::sleep(retry).await;
                continue;
            }
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!("GET {}{path}", api.base())));
            }
        };
        let status = response.status();
        if status == StatusCode::NO_CONTENT {
            return Ok(Ended::AlreadyEnded);
        }
        if status == StatusCode::NOT_FOUND
            && wait_to_appear
            && last_id.is_none()
            && started.elapsed() < APPEAR_WITHIN
        {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        if status.is_server_error() && last_connected.elapsed() < RECONNECT_FOR {
            eprintln!("stream: {status}; reconnecting in {retry:?}");
            tokio::time::sleep(retry).await;
            continue;
        }
        if !status.is_success() {
            return Err(problem(Method::GET, path, response).await.into());
        }
        last_connected = Instant::now();
        let mut response = response;
        let mut parser = SseParser::default();
        loop {
            let chunk = match tokio::time::timeout(SILENCE, response.chunk()).await {
                Ok(Ok(Some(chunk))) => chunk,
                Ok(Ok(None)) => break,
                Ok(Err(e)) => {
                    eprintln!(
                        "stream dropped: {e}; resuming after {}",
                        last_id.as_deref().unwrap_or("the start")
                    );
                    break;
                }
                Err(_) => {
                    eprintln!("stream silent for {SILENCE:?}; reconnecting");
                    break;
                }
            };
            for event in parser.push(&chunk) {
                if let Some(id) = &event.id {
                    last_id = Some(id.clone());
                }
                if event.event == "end" {
                    let reason: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
                    match reason.get("reason").and_then(Value::as_str) {
                        Some("task-ended") => return Ok(Ended::Done),
                        Some("key-revoked") => {
                            return Err(failed("the API key was revoked; the stream ended"));
                        }
                        // too-slow, unavailable: resume from the last id.
                        _ => continue,
                    }
                }
                if let Flow::Stop = handle(&event)? {
                    return Ok(Ended::Done);
                }
            }
        }
        if let Some(ms) = parser.retry_ms {
            retry = Duration::from_millis(ms.clamp(100, 10_000));
        }
        tokio::time::sleep(retry).await;
    }
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:.bold} [{bar:30}] {pos:>3}% {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// How notifications are shown.
struct View {
    json: bool,
    bars: Option<MultiProgress>,
    tasks: HashMap<String, ProgressBar>,
}

impl View {
    fn new(settings: &Settings) -> Self {
        let bars = (!settings.json() && std::io::stderr().is_terminal()).then(MultiProgress::new);
        Self {
            json: settings.json(),
            bars,
            tasks: HashMap::new(),
        }
    }

    fn show(&mut self, n: &Value) {
        if self.json {
            output::json_line(n);
            return;
        }
        let task_id = field(n, "task_id");
        let status = field(n, "status");
        let percent = n.get("percent").and_then(Value::as_u64);
        let note = [
            field(n, "message"),
            field(n, "error"),
            field(n, "result_summary"),
        ]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
        let terminal = matches!(status.as_str(), "completed" | "failed" | "cancelled");
        let Some(bars) = &self.bars else {
            let percent = percent
                .map(|p| format!("{p:>3}%"))
                .unwrap_or_else(|| "    ".into());
            println!(
                "{}  {}  {:<10} {percent}  {note}",
                field(n, "occurred_at"),
                short_id(&task_id),
                status
            );
            return;
        };
        let bar = self.tasks.entry(task_id.clone()).or_insert_with(|| {
            let bar = bars.add(ProgressBar::new(100));
            bar.set_style(bar_style());
            bar.set_prefix(format!("{} {}", short_id(&task_id), field(n, "task_type")));
            bar
        });
        if let Some(p) = percent {
            bar.set_position(p);
        }
        if status == "completed" {
            bar.set_position(100);
        }
        bar.set_message(format!("{status} {note}"));
        if terminal {
            bar.finish();
        }
    }

    fn println(&self, line: &str) {
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(line);
            }
            None => println!("{line}"),
        }
    }
}

fn short_id(id: &str) -> String {
    id.chars().take(8).collect()
}

/// Follows one task to its end; `Ok` only when it completed.
pub async fn watch_task(settings: &Settings, id: Uuid) -> anyhow::Result<()> {
    let api = Api::new(&settings.notify_url()?, &settings.api_key()?)?;
    let mut view = View::new(settings);
    let mut last: Option<Value> = None;
    let id_text = id.to_string();
    let path = format!("/v1/tasks/{id}/stream");
    let ended = follow(&api, &path, &[], true, |event| {
        let notifications: Vec<Value> = match event.event.as_str() {
            "task" => serde_json::from_str(&event.data).into_iter().collect(),
            // History was pruned past our cursor: the task's state now stands in for it.
            "resync" => serde_json::from_str::<Value>(&event.data)
                .ok()
                .and_then(|o| o.get("tasks").and_then(Value::as_array).cloned())
                .unwrap_or_default()
                .into_iter()
                .filter(|t| field(t, "task_id") == id_text)
                .collect(),
            _ => Vec::new(),
        };
        for n in notifications {
            view.show(&n);
            last = Some(n);
        }
        let ended = last.as_ref().is_some_and(|n| {
            matches!(
                field(n, "status").as_str(),
                "completed" | "failed" | "cancelled"
            )
        });
        Ok(if ended { Flow::Stop } else { Flow::Continue })
    })
    .await?;
    let (status, error, result) = match (&last, ended) {
        (Some(n), _) if is_terminal(&field(n, "status")) => (
            field(n, "status"),
            field(n, "error"),
            field(n, "result_summary"),
        ),
        // Ended before we looked (204), or ended without a terminal notification we saw:
        // svc-tasks has the outcome.
        _ => {
            let task = tasks_api(settings)?.get(&format!("/v1/tasks/{id}")).await?;
            (
                field(&task, "status"),
                field(&task, "error"),
                field(&task, "result"),
            )
        }
    };
    if settings.json() {
        output::json_line(&json!({
            "kind": "outcome", "task_id": id, "status": status,
            "error": (!error.is_empty()).then_some(&error),
            "result": (!result.is_empty()).then_some(&result),
        }));
    } else if status == "completed" {
        view.println(&format!(
            "task {id} completed{}",
            if result.is_empty() {
                String::new()
            } else {
                format!(": {result}")
            }
        ));
    }
    // Otherwise the error (on stderr) tells the outcome.
    if status == "completed" {
        Ok(())
    } else {
        Err(failed(format!(
            "task {id} {status}{}",
            if error.is_empty() {
                String::new()
            } else {
                format!(": {error}")
            }
        )))
    }
}

fn is_terminal(status: &str) -> bool {
    matches!(status, "completed" | "failed" | "cancelled")
}

/// Every task of the tenant, live, until interrupted.
pub async fn watch_all(settings: &Settings, args: &WatchArgs) -> anyhow::Result<()> {
    let api = Api::new(&settings.notify_url()?, &settings.api_key()?)?;
    let mut query = Vec::new();
    if let Some(t) = &args.task_type {
        query.push(("type".to_owned(), t.clone()));
    }
    if let Some(s) = &args.status {
        query.push(("status".to_owned(), s.clone()));
    }
    for label in &args.labels {
        let Some((k, v)) = label.split_once('=') else {
            return Err(usage(format!("--label {label:?}: expected key=value")));
        };
        query.push(("label".to_owned(), format!("{k}:{v}")));
    }
    let mut view = View::new(settings);
    follow(&api, "/v1/stream", &query, false, |event| {
        match event.event.as_str() {
            "task" => {
                if let Ok(n) = serde_json::from_str::<Value>(&event.data) {
                    view.show(&n);
                }
            }
            "resync" => {
                view.println("(history was pruned past our position: showing the current state)")
            }
            _ => {}
        }
        Ok(Flow::Continue)
    })
    .await?;
    Ok(())
}
