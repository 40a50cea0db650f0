//! `submit --batch FILE`: one task per line, sent in batches of up to 1,000 through
//! `POST /v1/tasks:batch`. Each batch is all or nothing (the API's rule); a refused batch is
//! reported with the line the API blamed and the reason, and the next batch is still sent.

use std::io::Read;

use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;
use serde_json::{Value, json};

use crate::cli::SubmitArgs;
use crate::commands::tasks::tasks_api;
use crate::config::Settings;
use crate::error::{ApiProblem, failed, usage};
use crate::output;

/// One line of the file: its number (from 1) and the task, or why it is not one.
struct Line {
    number: usize,
    task: Result<Value, String>,
}

fn read_lines(path: &std::path::Path) -> anyhow::Result<Vec<Line>> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| usage(format!("--batch -: cannot read stdin: {e}")))?;
    } else {
        text = std::fs::read_to_string(path)
            .map_err(|e| usage(format!("--batch {}: {e}", path.display())))?;
    }
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| Line {
            number: i + 1,
            task: match serde_json::from_str::<Value>(l) {
                Ok(v) if v.is_object() => Ok(v),
                Ok(_) => Err("not a JSON object".into()),
                Err(e) => Err(format!("not JSON: {e}")),
            },
        })
        .collect())
}

/// What became of one batch.
#[derive(Debug)]
struct Outcome {
    first_line: usize,
    last_line: usize,
    tasks: usize,
    accepted: Vec<Value>,
    refused: Option<Refusal>,
}

#[derive(Debug)]
struct Refusal {
    /// The file line the refusal points at, when it names an item.
    line: Option<usize>,
    reason: String,
    problem: Value,
}

pub async fn submit_batch(
    settings: &Settings,
    args: &SubmitArgs,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    let lines = read_lines(path)?;
    if lines.is_empty() {
        return Err(usage(format!("--batch {}: no tasks in it", path.display())));
    }
    let api = tasks_api(settings)?;
    let bar = ProgressBar::new(lines.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:40}] {pos}/{len} tasks  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut outcomes = Vec::new();
    for chunk in lines.chunks(usize::from(args.batch_size)) {
        let outcome = send(&api, args, chunk).await?;
        bar.inc(chunk.len() as u64);
        if let Some(r) = &outcome.refused {
            bar.println(format!(
                "lines {}-{} refused: {}",
                outcome.first_line, outcome.last_line, r.reason
            ));
        }
        outcomes.push(outcome);
    }
    bar.finish_and_clear();
    report(settings, &outcomes);
    let refused: usize = outcomes
        .iter()
        .filter(|o| o.refused.is_some())
        .map(|o| o.tasks)
        .sum();
    if refused > 0 {
        return Err(failed(format!(
            "{refused} of {} tasks refused (their batches were not created)",
            lines.len()
        )));
    }
    Ok(())
}

async fn send(api: &crate::api::Api, args: &SubmitArgs, chunk: &[Line]) -> anyhow::Result<Outcome> {
    let first_line = chunk.first().map_or(0, |l| l.number);
    let last_line = chunk.last().map_or(0, |l| l.number);
    let mut outcome = Outcome {
        first_line,
        last_line,
        tasks: chunk.len(),
        accepted: Vec::new(),
        refused: None,
    };
    let mut items = Vec::with_capacity(chunk.len());
    for line in chunk {
        match &line.task {
            Ok(task) => {
                let mut task = task.clone();
                if let (Some(prefix), Some(fields)) = (&args.idempotency_key, task.as_object_mut())
                {
                    fields
                        .entry("idempotency_key")
                        .or_insert_with(|| format!("{prefix}-{}", line.number).into());
                }
                items.push(task);
            }
            Err(reason) => {
                // Never sent: the server could not refuse it more clearly, and sending the
                // rest would break the batch's all-or-nothing promise.
                outcome.refused = Some(Refusal {
                    line: Some(line.number),
                    reason: format!("line {}: {reason}", line.number),
                    problem: Value::Null,
                });
                return Ok(outcome);
            }
        }
    }
    let path = "/v1/tasks:batch";
    let request = api
        .request(Method::POST, path)
        .json(&json!({ "tasks": items }));
    match api.send(Method::POST, path, request).await {
        Ok(answer) => {
            outcome.accepted = answer
                .body
                .get("tasks")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
        }
        Err(error) => {
            let Some(problem) = error.downcast_ref::<ApiProblem>() else {
                return Err(error);
            };
            let index = problem.body.get("index").and_then(Value::as_u64);
            let line = index
                .and_then(|i| chunk.get(usize::try_from(i).ok()?))
                .map(|l| l.number);
            let reason = match (line, index) {
                (Some(line), Some(index)) => {
                    // The API counts items of this request; a person counts lines of the file.
                    let item = format!("item {index}: ");
                    let at = format!("/tasks/{index}");
                    let summary = problem.summary().replacen(&item, "", 1);
                    let extra: Vec<String> = problem
                        .located()
                        .into_iter()
                        .map(|l| l.strip_prefix(&at).map(str::to_owned).unwrap_or(l))
                        .filter(|l| !l.split_once(": ").is_some_and(|(_, m)| summary.contains(m)))
                        .collect();
                    if extra.is_empty() {
                        format!("line {line}: {summary}")
                    } else {
                        format!("line {line}: {summary} [{}]", extra.join("; "))
                    }
                }
                _ => problem.summary(),
            };
            outcome.refused = Some(Refusal {
                line,
                reason,
                problem: problem.body.clone(),
            });
        }
    }
    Ok(outcome)
}

fn report(settings: &Settings, outcomes: &[Outcome]) {
    let accepted: usize = outcomes.iter().map(|o| o.accepted.len()).sum();
    let refused: usize = outcomes
        .iter()
        .filter(|o| o.refused.is_some())
        .map(|o| o.tasks)
        .sum();
    if settings.json() {
        let batches: Vec<Value> = outcomes
            .iter()
            .map(|o| {
                let ids: Vec<&Value> = o.accepted.iter().filter_map(|t| t.get("id")).collect();
                match &o.refused {
                    None => json!({
                        "first_line": o.first_line, "last_line": o.last_line,
                        "status": "accepted", "task_ids": ids,
                    }),
                    Some(r) => json!({
                        "first_line": o.first_line, "last_line": o.last_line,
                        "status": "refused", "line": r.line, "reason": r.reason,
                        "problem": r.problem,
                    }),
                }
            })
            .collect();
        output::json(&json!({"accepted": accepted, "refused": refused, "batches": batches}));
        return;
    }
    let rows: Vec<Vec<String>> = outcomes
        .iter()
        .map(|o| {
            let (status, detail) = match &o.refused {
                None => ("accepted".to_owned(), format!("{} tasks", o.accepted.len())),
                Some(r) => ("refused".to_owned(), r.reason.clone()),
            };
            vec![format!("{}-{}", o.first_line, o.last_line), status, detail]
        })
        .collect();
    output::table(&["LINES", "BATCH", "DETAIL"], &rows);
    println!("accepted {accepted}, refused {refused}");
}
