//! `schedules history ID`: a schedule's life as the bus tells it — its lifecycle events
//! (created, changed, paused, resumed, deleted) from `taskflow.schedules.lifecycle.v1`, oldest
//! first, with the settings each left. It reads Kafka, not svc-scheduler's API: a deleted
//! schedule's history is there too, as far back as the topic's retention (a week in `make up`),
//! and, like `tap`, it is an operator's view (Kafka access, no tenant key).

use serde_json::Value;
use taskflow_schemas::Stream;
use uuid::Uuid;

use crate::config::Settings;
use crate::kafka::{self, StartAt};
use crate::output::{self, field, short};

pub async fn run(settings: &Settings, id: Uuid) -> anyhow::Result<()> {
    let topic = settings.topics().name(Stream::ScheduleLifecycle);
    let codec = kafka::codec(settings)?;
    let (consumer, named) = kafka::consumer(settings, None)?;
    let mut reader = kafka::start(
        consumer,
        std::slice::from_ref(&topic),
        StartAt::Beginning,
        false,
        named,
    )?;
    // Records are keyed by schedule id: one schedule's events are on one partition, in order.
    let key = id.to_string();
    let mut lines = Vec::new();
    while let Some(message) = reader.next().await? {
        if rdkafka::Message::key(&message) == Some(key.as_bytes()) {
            lines.push(kafka::describe(&codec, &message).await.1);
        }
    }
    if lines.is_empty() {
        anyhow::bail!(
            "no events of schedule {id} on {topic} (never created, or older than the topic's retention)"
        );
    }
    if settings.json() {
        for line in &lines {
            output::json_line(line);
        }
        return Ok(());
    }
    let rows: Vec<Vec<String>> = lines.iter().map(row).collect();
    output::table(&["TIME", "EVENT", "BY", "WHAT"], &rows);
    Ok(())
}

/// One event as a row: when, what, the request that caused it, and what it says.
fn row(line: &Value) -> Vec<String> {
    let event = line.get("event").cloned().unwrap_or(Value::Null);
    let kind = field(line, "event_type");
    let what = match kind.as_str() {
        "ScheduleCreated" => format!("{} {}", field(&event, "name"), spec(&event)),
        "ScheduleChanged" => format!(
            "changed {}: now {} {}",
            event
                .get("changed_fields")
                .and_then(Value::as_array)
                .map(|f| f
                    .iter()
                    .map(|f| output::cell(Some(f)))
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default(),
            field(&event, "name"),
            spec(&event)
        ),
        "SchedulePaused" => format!("note: {}", field(&event, "note")),
        "ScheduleResumed" => format!(
            "{} instants skipped while paused",
            field(&event, "skipped_instants")
        ),
        "ScheduleDeleted" => format!("was {} {}", field(&event, "name"), spec(&event)),
        _ => field(line, "error"),
    };
    let at = event
        .get("occurred_at")
        .and_then(Value::as_i64)
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| field(line, "timestamp"));
    vec![at, kind, field(&event, "correlation_id"), short(&what, 120)]
}

/// `cron EXPR ZONE`, `every PT…` or `at TIME`, and the task it starts.
fn spec(event: &Value) -> String {
    let timing = if let Some(cron) = event.get("cron").filter(|c| !c.is_null()) {
        format!(
            "cron {} {}",
            output::cell(Some(cron)),
            field(event, "timezone")
        )
    } else if let Some(every) = event.get("every").filter(|e| !e.is_null()) {
        format!("every {}", output::cell(Some(every)))
    } else {
        let at = event
            .get("at")
            .and_then(Value::as_i64)
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        format!("at {at}")
    };
    format!("({timing}) -> {}", field(event, "task_type"))
}
