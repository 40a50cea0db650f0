//! `dlq list|show|replay`: dead letters on `taskflow.deadletter.<group>.v1`, read with an
//! ephemeral consumer (never the service's group).
//!
//! Replay re-submits a dead-lettered task submission (a `TaskCreated`, parked by svc-executor
//! when a task failed for good, or a `ScheduledTaskTriggered` svc-tasks refused) through
//! `POST /v1/tasks`, as a new task: the original id cannot be reused (svc-tasks creates a task
//! id once), so the new task carries the label `replay_of=<original task id>`, which its
//! history (TaskCreated) and `GET /v1/tasks/{id}` show. It is submitted in the original
//! task's tenant: the admin token issues a key for that tenant, used for the replay and
//! revoked right after. Each dead letter is replayed with `Idempotency-Key:
//! replay-<dead letter's event id>`, so replaying it again returns the same new task.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use taskflow_platform::dead_letter;
use taskflow_schemas::Event;
use uuid::Uuid;

use crate::api::Api;
use crate::cli::{DlqCommand, DlqSelect};
use crate::commands::tenants::admin_api;
use crate::config::Settings;
use crate::error::{ApiProblem, failed, usage};
use crate::input;
use crate::kafka::{self, StartAt};
use crate::output::{self, field, short};

const MIDDLE: &str = "taskflow.deadletter.";

/// One dead letter: the record as `tap` shows it, plus its group, reason and decoded event.
pub struct DeadLetter {
    pub group: String,
    pub reference: String,
    pub event: Option<Event>,
    pub line: Value,
}

impl DeadLetter {
    fn header(&self, key: &str) -> String {
        field(&self.line["headers"], key)
    }

    /// The task the letter is about; a record that did not decode falls back to its JSON.
    fn task_id(&self) -> String {
        match self.event.as_ref().and_then(Event::task_id) {
            Some(task_id) => task_id.to_string(),
            None => field(&self.line["event"], "task_id"),
        }
    }

    fn event_id(&self) -> String {
        field(&self.line["event"], "event_id")
    }

    fn matches(&self, reference: &str) -> bool {
        reference == self.reference
            || (!reference.is_empty()
                && (reference == self.task_id()
                    || reference == self.event_id()
                    || Some(reference) == self.line["key"].as_str()))
    }

    fn json(&self) -> Value {
        let mut line = self.line.clone();
        line["group"] = self.group.clone().into();
        line["reference"] = self.reference.clone().into();
        line["reason"] = self.header(dead_letter::REASON).into();
        line
    }
}

/// Reads every dead letter `select` asks for, oldest first per topic.
pub async fn read(settings: &Settings, select: &DlqSelect) -> anyhow::Result<Vec<DeadLetter>> {
    let prefix = format!("{}{MIDDLE}", settings.topics().prefix());
    let (consumer, _) = kafka::consumer(settings, None)?;
    let mut topics: Vec<(String, String)> = kafka::topic_names(&consumer)?
        .into_iter()
        .filter_map(|t| {
            let group = t.strip_prefix(&prefix)?.strip_suffix(".v1")?.to_owned();
            Some((t, group))
        })
        .filter(|(_, g)| select.group.as_ref().is_none_or(|want| want == g))
        .collect();
    topics.sort();
    if topics.is_empty() {
        return Ok(Vec::new());
    }
    let at = match &select.since {
        Some(since) => StartAt::Time(input::time("--since", since)?.timestamp_millis()),
        None => StartAt::Beginning,
    };
    let names: Vec<String> = topics.iter().map(|(t, _)| t.clone()).collect();
    let groups: BTreeMap<String, String> = topics.into_iter().collect();
    let codec = kafka::codec(settings)?;
    let mut reader = kafka::start(consumer, &names, at, false, false)?;
    let mut letters = Vec::new();
    while let Some(message) = reader.next().await? {
        let (event, line) = kafka::describe(&codec, &message).await;
        if let Some(tenant) = select.tenant
            && event.as_ref().is_none_or(|e| e.meta().tenant_id != tenant)
        {
            continue;
        }
        let group = groups
            .get(&field(&line, "topic"))
            .cloned()
            .unwrap_or_default();
        letters.push(DeadLetter {
            reference: format!(
                "{group}:{}:{}",
                field(&line, "partition"),
                field(&line, "offset")
            ),
            group,
            event,
            line,
        });
    }
    // Oldest first across topics and partitions (RFC 3339 UTC text sorts as time).
    letters.sort_by_key(|l| field(&l.line, "timestamp"));
    Ok(letters)
}

fn pick<'a>(letters: &'a [DeadLetter], reference: &str) -> anyhow::Result<Vec<&'a DeadLetter>> {
    let found: Vec<&DeadLetter> = letters.iter().filter(|l| l.matches(reference)).collect();
    if found.is_empty() {
        return Err(failed(format!(
            "no dead letter {reference} (an event id, task id, or group:partition:offset from `taskflow dlq list`)"
        )));
    }
    Ok(found)
}

pub async fn run(settings: &Settings, command: &DlqCommand) -> anyhow::Result<()> {
    match command {
        DlqCommand::List(select) => {
            let letters = read(settings, select).await?;
            if settings.json() {
                output::json(
                    &json!({"dead_letters": letters.iter().map(DeadLetter::json).collect::<Vec<_>>()}),
                );
                return Ok(());
            }
            let rows: Vec<Vec<String>> = letters
                .iter()
                .map(|l| {
                    vec![
                        l.reference.clone(),
                        field(&l.line, "timestamp"),
                        field(&l.line, "event_type"),
                        l.task_id(),
                        short(&l.header(dead_letter::REASON), 90),
                    ]
                })
                .collect();
            output::table(&["REFERENCE", "PARKED", "TYPE", "TASK", "REASON"], &rows);
            Ok(())
        }
        DlqCommand::Show { reference, select } => {
            let letters = read(settings, select).await?;
            for letter in pick(&letters, reference)? {
                if settings.json() {
                    output::json(&letter.json());
                } else {
                    output::key_values(&letter.json());
                    println!();
                }
            }
            Ok(())
        }
        DlqCommand::Replay {
            references,
            all,
            select,
        } => {
            let letters = read(settings, select).await?;
            let chosen: Vec<&DeadLetter> = if *all {
                letters.iter().collect()
            } else {
                let mut chosen = Vec::new();
                for r in references {
                    chosen.extend(pick(&letters, r)?);
                }
                chosen
            };
            replay(settings, &chosen, *all).await
        }
    }
}

/// What replay submits for a dead letter, with the original task id; `Err` says why it is not
/// a task submission.
fn submission(letter: &DeadLetter) -> Result<(Uuid, Uuid, Value), String> {
    let (
        tenant,
        original,
        task_type,
        priority,
        payload_json,
        max_attempts,
        timeout_ms,
        labels,
        run_at,
    ) = match &letter.event {
        Some(Event::TaskCreated(e)) => (
            e.meta.tenant_id,
            e.task_id,
            &e.task_type,
            e.priority,
            &e.payload_json,
            e.max_attempts,
            e.timeout_ms,
            &e.labels,
            e.run_at,
        ),
        Some(Event::ScheduledTaskTriggered(e)) => (
            e.meta.tenant_id,
            e.task_id,
            &e.task_type,
            e.priority,
            &e.payload_json,
            e.max_attempts,
            e.timeout_ms,
            &e.labels,
            None,
        ),
        Some(other) => {
            return Err(format!(
                "a {} is not a task submission",
                other.kind().name()
            ));
        }
        None => {
            return Err(format!(
                "unreadable record: {}",
                field(&letter.line, "error")
            ));
        }
    };
    let payload: Value = serde_json::from_str(payload_json)
        .map_err(|e| format!("its payload_json is not JSON: {e}"))?;
    let mut labels = labels.clone();
    labels.insert("replay_of".into(), original.to_string());
    let priority = serde_json::to_value(priority)
        .ok()
        .and_then(|p| p.as_str().map(str::to_lowercase))
        .unwrap_or_else(|| "normal".into());
    let mut body = json!({
        "type": task_type, "payload": payload, "priority": priority,
        "max_attempts": max_attempts, "timeout_ms": timeout_ms, "labels": labels,
    });
    // A delay still ahead is kept; one that has passed would be refused (over 60 s ago).
    if let Some(at) = run_at.and_then(chrono::DateTime::from_timestamp_millis)
        && at > chrono::Utc::now()
    {
        body["run_at"] = at.to_rfc3339().into();
    }
    Ok((tenant, original, body))
}

async fn replay(settings: &Settings, chosen: &[&DeadLetter], all: bool) -> anyhow::Result<()> {
    let admin = admin_api(settings)?;
    let api_url = settings.api_url()?;
    let mut by_tenant: BTreeMap<Uuid, Vec<(&DeadLetter, Uuid, Value)>> = BTreeMap::new();
    let mut results = Vec::new();
    for letter in chosen {
        match submission(letter) {
            Ok((tenant, original, body)) => by_tenant
                .entry(tenant)
                .or_default()
                .push((letter, original, body)),
            Err(why) => results.push(json!({
                "reference": letter.reference, "outcome": if all { "skipped" } else { "refused" },
                "reason": why,
            })),
        }
    }
    for (tenant, items) in by_tenant {
        let key = match admin
            .post(&format!("/v1/admin/tenants/{tenant}/keys"), None)
            .await
        {
            Ok(answer) => answer.body,
            Err(error) => {
                let why = problem_text(&error);
                for (letter, original, _) in items {
                    results.push(json!({
                        "reference": letter.reference, "original_task_id": original,
                        "outcome": "refused", "reason": format!("no key for tenant {tenant}: {why}"),
                    }));
                }
                continue;
            }
        };
        let api = Api::new(&api_url, &field(&key, "api_key"))?;
        for (letter, original, body) in items {
            let idempotency = format!("replay-{}", letter.event_id());
            let request = api
                .request(reqwest::Method::POST, "/v1/tasks")
                .header("Idempotency-Key", &idempotency)
                .json(&body);
            let result = match api.send(reqwest::Method::POST, "/v1/tasks", request).await {
                Ok(answer) => json!({
                    "reference": letter.reference, "original_task_id": original,
                    "outcome": if answer.headers.contains_key("idempotent-replayed") { "replayed-before" } else { "replayed" },
                    "task_id": answer.body.get("id"),
                }),
                Err(error) => json!({
                    "reference": letter.reference, "original_task_id": original,
                    "outcome": "refused", "reason": problem_text(&error),
                }),
            };
            results.push(result);
        }
        // The key lived for this replay only.
        if let Err(error) = admin
            .delete(&format!(
                "/v1/admin/tenants/{tenant}/keys/{}",
                field(&key, "key_id")
            ))
            .await
        {
            eprintln!(
                "warning: could not revoke the replay key {} of tenant {tenant}: {error:#}",
                field(&key, "key_id")
            );
        }
    }
    let refused = results.iter().filter(|r| r["outcome"] == "refused").count();
    if settings.json() {
        output::json(&json!({"results": results}));
    } else {
        let rows: Vec<Vec<String>> = results
            .iter()
            .map(|r| {
                vec![
                    field(r, "reference"),
                    field(r, "original_task_id"),
                    field(r, "outcome"),
                    if r.get("task_id").is_some() {
                        field(r, "task_id")
                    } else {
                        field(r, "reason")
                    },
                ]
            })
            .collect();
        output::table(
            &["REFERENCE", "ORIGINAL TASK", "OUTCOME", "NEW TASK / REASON"],
            &rows,
        );
    }
    if chosen.is_empty() && !all {
        return Err(usage("nothing to replay"));
    }
    if refused > 0 {
        return Err(failed(format!(
            "{refused} of {} dead letters not replayed",
            results.len()
        )));
    }
    Ok(())
}

fn problem_text(error: &anyhow::Error) -> String {
    match error.downcast_ref::<ApiProblem>() {
        Some(p) => {
            let located = p.located();
            if located.is_empty() {
                p.summary()
            } else {
                format!("{} [{}]", p.summary(), located.join("; "))
            }
        }
        None => format!("{error:#}"),
    }
}
