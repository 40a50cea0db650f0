//! `tap`: topics as JSON lines, one event per line, decoded through the schema registry:
//! `{topic, partition, offset, timestamp, key, headers, event_type, event}` (plus `error`
//! for a record that is not a readable TaskFlow event). Order holds within a partition (one
//! task's events), not across partitions or topics.

use std::io::Write;

use rdkafka::consumer::StreamConsumer;
use serde_json::Value;
use taskflow_schemas::{EventKind, Stream, Topics};

use crate::cli::TapArgs;
use crate::config::Settings;
use crate::error::usage;
use crate::kafka::{self, StartAt};
use crate::output::{field, short};

pub async fn run(settings: &Settings, args: &TapArgs) -> anyhow::Result<()> {
    for t in &args.types {
        if EventKind::from_name(t).is_none() {
            let known: Vec<&str> = EventKind::ALL.iter().map(|k| k.name()).collect();
            return Err(usage(format!(
                "--type {t:?} is not an event type; one of {}",
                known.join(", ")
            )));
        }
    }
    let topics = settings.topics();
    let (consumer, named) = kafka::consumer(settings, args.group.as_deref())?;
    let names: Vec<String> = if args.all {
        every_topic(&consumer, &topics)?
    } else {
        args.topics
            .iter()
            .map(|t| kafka::resolve_topic(&topics, t))
            .collect()
    };
    let at = match (&args.from, &args.group) {
        (Some(from), _) => StartAt::parse(from)?,
        (None, Some(_)) => StartAt::Committed,
        (None, None) => StartAt::Beginning,
    };
    let codec = kafka::codec(settings)?;
    let mut reader = kafka::start(consumer, &names, at, args.follow, named)?;
    let stdout = std::io::stdout();
    loop {
        // Ctrl-C ends a tap like the end of the topics does: a named group commits first.
        let next = tokio::select! {
            next = reader.next() => next?,
            _ = tokio::signal::ctrl_c() => None,
        };
        let Some(message) = next else { break };
        let (event, line) = kafka::describe(&codec, &message).await;
        let wanted = match &event {
            Some(e) => {
                (args.types.is_empty() || args.types.iter().any(|t| t == e.kind().name()))
                    && args.tenant.is_none_or(|t| e.meta().tenant_id == t)
            }
            // Unreadable records are shown unless a filter asks about what only a decoded
            // event can tell.
            None => args.types.is_empty() && args.tenant.is_none(),
        };
        if wanted {
            let text = if settings.json_lines() {
                line.to_string()
            } else {
                human(&line)
            };
            let mut out = stdout.lock();
            // A closed pipe (`| head`) ends the tap quietly.
            if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
                break;
            }
        }
        reader.handled(&message)?;
    }
    reader.commit()?;
    Ok(())
}

/// Every stream's topic the cluster has. Services create the topics of the streams they know
/// when they start, so a CLI newer than the running services may know a stream whose topic
/// does not exist yet: it is left out with a note rather than failing the whole tap.
fn every_topic(consumer: &StreamConsumer, topics: &Topics) -> anyhow::Result<Vec<String>> {
    let existing = kafka::topic_names(consumer)?;
    let mut names = Vec::new();
    for stream in Stream::ALL {
        let name = topics.name(stream);
        if existing.contains(&name) {
            names.push(name);
        } else {
            eprintln!(
                "note: no topic {name} on this cluster yet (its producer has not started since it was added); left out"
            );
        }
    }
    Ok(names)
}

/// Table output: one short line per event.
fn human(line: &Value) -> String {
    let event = line.get("event").cloned().unwrap_or(Value::Null);
    let subject = ["task_id", "schedule_id", "key_id"]
        .into_iter()
        .map(|k| field(&event, k))
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| field(line, "key"));
    let mut detail = Vec::new();
    for key in [
        "name",
        "changed_fields",
        "task_type",
        "status",
        "attempt",
        "percent",
        "error",
        "reason",
    ] {
        let v = field(&event, key);
        if !v.is_empty() {
            detail.push(format!("{key}={v}"));
        }
    }
    if let Some(error) = line.get("error").and_then(Value::as_str) {
        detail.push(format!("UNREADABLE: {error}"));
    }
    format!(
        "{} {}/{}@{} {:<22} {} {}",
        field(line, "timestamp"),
        field(line, "topic"),
        field(line, "partition"),
        field(line, "offset"),
        field(line, "event_type"),
        subject,
        short(&detail.join(" "), 100)
    )
}
