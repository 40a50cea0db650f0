//! End-to-end benchmark of `noop` tasks (`make bench`, after the submission runs; and the TaskFlow
//! side of `make bench-peers`): submits `--tasks` tasks through `POST /v1/tasks:batch`
//! (`--concurrency` requests in flight, or paced with `--rate`; `--single`: one task per
//! `POST /v1/tasks`), waits until every one is completed, and reads the timings the services
//! recorded themselves, so no service code is involved:
//!
//! * submitted: `tasks.created_at` in svc-tasks' database (its clock when it took the task);
//! * started: `attempts.started_at` in svc-executor's database (the lease was taken);
//! * done: `attempts.ended_at` (the executor recorded the outcome);
//! * seen: `task_events.recorded_at` of the TaskCompleted that svc-tasks consumed back from
//!   Kafka, i.e. when `GET /v1/tasks/{id}` starts answering `completed`;
//! * ingest: `executions.created_at`, when the executor queued the TaskCreated from Kafka.
//!
//! These are the services' own tables, read directly because no endpoint serves them in this
//! form (svc-executor has no API at all) and because asking svc-tasks through its API would add
//! load and commits to the service being measured: `service_dbs.rs` says why for each read.
//! Submitting and reading back `started_at` go through the API (`submitter.rs`).
//!
//! Both services run on this machine, so their clocks agree. Throughput is tasks / (first
//! request sent -> last task done, or seen by svc-tasks); `seen/s` uses the moment this tool
//! observed the last completion in svc-tasks' projection (polled every `--poll-ms`).
//!
//! A warm-up (`--warmup-tasks`, same tenant) runs to completion first, so the executors' consumer
//! assignment, connection pools and caches are settled. Database URLs and the API key come from
//! the environment (BENCH_TASKS_DB_URL, BENCH_EXECUTOR_DB_URL, BENCH_API_KEY) to keep them out of
//! `ps`. Prints one table row (with `--header`, the header first); problems go to stderr.
//!
//! `--json` (for `make bench-peers`) prints one JSON object instead, with client-side latencies:
//! from the moment this tool sent the request to the task's `started_at` as svc-tasks exposes it
//! (`GET /v1/tasks`: the first TaskStarted's time, millisecond resolution) when `--samples-out`
//! is given (every sample goes there, µs, one per line, in the order the requests were sent),
//! and to the executor's `attempts.started_at` (µs). With `--cpu-pid NAME=PID` /
//! `--pg-postmaster PID` it reads the CPU seconds (utime+stime from /proc/<pid>/stat;
//! PostgreSQL: the postmaster with its reaped children plus every live child) just before the
//! first request and right after svc-tasks shows the last task completed; with `--stat-db NAME`
//! it reads pg_stat_database.xact_commit of those databases before the first request (through
//! BENCH_ADMIN_DB_URL) and counts its own transactions on them from then on (`own_commits`), so
//! that the caller, who reads the counter again once the services published theirs, can
//! subtract them.
//! With `--settle` (the whole product: svc-notify and svc-scheduler consume too; their databases
//! through BENCH_NOTIFY_DB_URL and, optionally, BENCH_SCHEDULER_DB_URL), it then waits until
//! svc-notify's projection shows every task of the tenant finished and no service's outbox holds
//! an unpublished row, and reads the CPU seconds again (`cpu_settled_s`): the work the followers
//! still had when svc-tasks showed the last task completed counts there. The JSON object also
//! says when the first request was sent and when the last task was seen completed
//! (`start_unix_ms`, `last_completion_unix_ms`), for the runs `make bench-peers` times after it.
//! While measuring, completion is polled with one cheap statement (`EXISTS` of an unfinished
//! task of the tenant) instead of counting.

mod service_dbs;
mod submitter;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use serde_json::json;
use taskflow_bench::clock::now_us;
use taskflow_bench::cpu_probe::CpuProbe;
use taskflow_bench::environment::required;
use taskflow_bench::latency::{histogram, ms_column, ms_json, record};
use taskflow_bench::procfs::own_cpu_secs;
use uuid::Uuid;

use crate::service_dbs::{Dbs, read_commits};
use crate::submitter::Submitter;

#[derive(Parser, Debug)]
#[command(
    about = "End-to-end throughput and latency of noop tasks through svc-tasks and svc-executor"
)]
struct Args {
    /// Base URL of svc-tasks, e.g. http://127.0.0.1:18190
    #[arg(long)]
    url: String,
    /// Label of this run in the table (e.g. "1 executor").
    #[arg(long, default_value = "e2e")]
    label: String,
    /// Tasks in the measured run.
    #[arg(long, default_value_t = 6000)]
    tasks: usize,
    /// Tasks run to completion before the measured run (not counted).
    #[arg(long, default_value_t = 200)]
    warmup_tasks: usize,
    /// Tasks per POST /v1/tasks:batch.
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// One task per POST /v1/tasks instead of batches (--batch-size is ignored).
    #[arg(long)]
    single: bool,
    /// Requests in flight.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Submit at most this many tasks per second (0: as fast as the requests go).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Give up when the tasks are not all finished this long after the first request.
    #[arg(long, default_value_t = 180)]
    timeout_secs: u64,
    /// Print the table header before the row.
    #[arg(long)]
    header: bool,
    /// Print one JSON object instead of the table row.
    #[arg(long)]
    json: bool,
    /// The run's `phase` in the JSON object (e.g. latency, throughput).
    #[arg(long, default_value = "e2e")]
    phase: String,
    /// Write every task's submit -> started (svc-tasks' started_at) in µs here, one per line.
    #[arg(long)]
    samples_out: Option<PathBuf>,
    /// A process whose CPU time counts, as NAME=PID (repeat for each).
    #[arg(long = "cpu-pid", value_parser = named_pid)]
    cpu_pids: Vec<(String, u32)>,
    /// The PostgreSQL postmaster: the CPU time of the whole cluster counts (as "postgres").
    #[arg(long)]
    pg_postmaster: Option<u32>,
    /// A database whose commits are counted (repeat for each); needs BENCH_ADMIN_DB_URL.
    #[arg(long = "stat-db")]
    stat_dbs: Vec<String>,
    /// Clock ticks per second of /proc/<pid>/stat (`getconf CLK_TCK`).
    #[arg(long, default_value_t = 100)]
    clk_tck: u64,
    /// After the last completion, wait for svc-notify and every outbox to catch up and read
    /// the CPU seconds again (needs BENCH_NOTIFY_DB_URL; BENCH_SCHEDULER_DB_URL optional).
    #[arg(long)]
    settle: bool,
    /// How often completion is polled, in milliseconds.
    #[arg(long, default_value_t = 100)]
    poll_ms: u64,
}

fn named_pid(s: &str) -> Result<(String, u32), String> {
    let (name, pid) = s.split_once('=').ok_or("expected NAME=PID")?;
    let pid = pid.parse().map_err(|e| format!("pid {pid:?}: {e}"))?;
    Ok((name.to_owned(), pid))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.tasks > 0, "--tasks must be at least 1");
    anyhow::ensure!(
        (1..=1000).contains(&args.batch_size),
        "--batch-size must be 1 to 1000"
    );
    let measuring = args.json && (!args.cpu_pids.is_empty() || args.pg_postmaster.is_some());
    let mut dbs = Dbs::new(
        &required("BENCH_TASKS_DB_URL")?,
        &required("BENCH_EXECUTOR_DB_URL")?,
    )?;
    if args.settle {
        let scheduler = std::env::var("BENCH_SCHEDULER_DB_URL").ok();
        dbs = dbs.with_followers(&required("BENCH_NOTIFY_DB_URL")?, scheduler.as_deref())?;
    }
    let admin_url = if args.stat_dbs.is_empty() {
        None
    } else {
        Some(required("BENCH_ADMIN_DB_URL")?)
    };
    let probe = CpuProbe {
        named: args.cpu_pids.clone(),
        postmaster: args.pg_postmaster,
        ticks_per_sec: args.clk_tck.max(1) as f64,
    };
    let poll = Duration::from_millis(args.poll_ms.max(1));
    let submitter = Submitter::new(
        &args.url,
        required("BENCH_API_KEY")?.trim(),
        args.single,
        args.batch_size,
        args.concurrency,
    )?;
    let per_request = submitter.per_request;

    // Warm-up, run to completion in the same tenant.
    let mut tenant = None;
    let mut baseline = 0i64;
    if args.warmup_tasks > 0 {
        let warm = submitter
            .submit(args.warmup_tasks, args.concurrency, 0.0)
            .await;
        let (first, _) = *<[(Uuid, i64)]>::first(&warm.tasks)
            .with_context(|| format!("every warm-up request failed: {:?}", warm.errors))?;
        let t = dbs.tenant_of(first).await?;
        let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
        dbs.wait_finished(t, warm.tasks.len() as i64, deadline, poll)
            .await
            .context("warm-up")?;
        tenant = Some(t);
    }
    if let Some(t) = tenant {
        let [seen, _] = dbs.counts(t).await?;
        baseline = seen.completed + seen.other_final;
    }

    // Before the measured run: the connections are open and the statements prepared (so
    // neither is counted), then the counters.
    let mut commits_before = None;
    if let Some(url) = &admin_url {
        dbs.prime().await?;
        commits_before = Some(read_commits(url, &args.stat_dbs).await?);
    }
    dbs.reset_commits();
    let cpu_before = if measuring {
        Some((probe.snapshot()?, own_cpu_secs(probe.ticks_per_sec)))
    } else {
        None
    };

    // The measured run.
    let t0_wall = now_us();
    let t0 = Instant::now();
    let run = submitter
        .submit(args.tasks, args.concurrency, args.rate)
        .await;
    let submit_secs = t0.elapsed().as_secs_f64();
    let (first, _) = *<[(Uuid, i64)]>::first(&run.tasks)
        .with_context(|| format!("every request failed: {:?}", run.errors))?;
    let tenant = match tenant {
        Some(t) => t,
        None => dbs.tenant_of(first).await?,
    };
    let n = run.tasks.len();
    let deadline = t0 + Duration::from_secs(args.timeout_secs);
    let seen_at = if measuring {
        dbs.wait_none_unfinished(tenant, deadline, poll).await?
    } else {
        dbs.wait_finished(tenant, baseline + n as i64, deadline, poll)
            .await?
    };
    let cpu_after = if measuring {
        Some((probe.snapshot()?, own_cpu_secs(probe.ticks_per_sec)))
    } else {
        None
    };
    let seen_secs = seen_at.duration_since(t0).as_secs_f64();
    let mut settled = None;
    if measuring && args.settle {
        let at = dbs.wait_settled(tenant, deadline, poll).await?;
        settled = Some((
            at.duration_since(t0).as_secs_f64(),
            probe.snapshot()?,
            own_cpu_secs(probe.ticks_per_sec),
        ));
    }

    // Timings recorded by the services, joined here by task id.
    let sent: HashMap<Uuid, i64> = run.tasks.iter().copied().collect();
    let ours: HashSet<Uuid> = sent.keys().copied().collect();
    let task_rows = dbs.task_times(tenant).await?;
    let exec_rows = dbs.exec_times(tenant).await?;

    let created: HashMap<Uuid, (i64, Option<i64>)> = task_rows
        .into_iter()
        .filter(|r| ours.contains(&r.id))
        .map(|r| (r.id, (r.created_us, r.seen_us)))
        .collect();
    let (mut started, mut done, mut seen, mut ingest) =
        (histogram()?, histogram()?, histogram()?, histogram()?);
    // From the moment this tool sent the request: to the executor's attempt start (µs).
    let mut client_exec_start = histogram()?;
    let mut per_instance: BTreeMap<String, u64> = BTreeMap::new();
    let mut last_end = t0_wall;
    let mut completed = 0usize;
    for row in exec_rows {
        let Some(&(created_us, seen_us)) = created.get(&row.task_id) else {
            continue;
        };
        completed += 1;
        record(&mut ingest, created_us, row.ingested_us);
        record(&mut started, created_us, row.started_us);
        record(&mut done, created_us, row.ended_us);
        if let Some(s) = seen_us {
            record(&mut seen, created_us, s);
        }
        if let Some(&sent_us) = sent.get(&row.task_id) {
            record(&mut client_exec_start, sent_us, row.started_us);
        }
        last_end = last_end.max(row.ended_us);
        *per_instance.entry(row.instance).or_default() += 1;
    }
    let done_secs = (last_end - t0_wall) as f64 / 1e6;
    let split = per_instance
        .iter()
        .map(|(i, c)| format!("{i}={c}"))
        .collect::<Vec<_>>()
        .join(",");

    // From the moment this tool sent the request to TaskStarted as svc-tasks exposes it.
    let mut client_api_start = histogram()?;
    if let Some(path) = &args.samples_out {
        let started_at = submitter.started_via_api().await?;
        // In the order the requests were sent: a stall shows as a run of slow ones.
        let mut tasks = run.tasks.clone();
        tasks.sort_by_key(|&(_, sent_us)| sent_us);
        let mut samples = Vec::with_capacity(n);
        for (id, sent_us) in &tasks {
            if let Some(&at) = started_at.get(id) {
                let us = (at - sent_us).max(0);
                samples.push(us);
                record(&mut client_api_start, *sent_us, at);
            }
        }
        let text: String = samples.iter().map(|s| format!("{s}\n")).collect();
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }

    let failed: u64 = run.errors.values().sum();
    if args.json {
        let mut object = json!({
            "system": "taskflow",
            "config": args.label,
            "phase": args.phase,
            "tasks": n,
            "requested": args.tasks,
            "completed": completed,
            "seen_completed": seen.len(),
            "failed_requests": failed,
            "batch": per_request,
            "inflight": args.concurrency,
            "rate": args.rate,
            "secs": seen_secs,
            "tasks_per_s": n as f64 / seen_secs.max(0.001),
            // First request sent; last task seen completed in svc-tasks (ms since the epoch).
            "start_unix_ms": t0_wall / 1000,
            "last_completion_unix_ms": t0_wall / 1000 + (seen_secs * 1000.0) as i64,
            "done_secs": done_secs,
            "done_per_s": completed as f64 / done_secs.max(0.001),
            "submit_secs": submit_secs,
            "submit_per_s": n as f64 / submit_secs.max(0.001),
            "late_max_ms": run.late_max.as_secs_f64() * 1000.0,
            "per_instance": per_instance,
            // submit -> TaskStarted as svc-tasks exposes it (ms resolution), from the request.
            "p50_ms": ms_json(&client_api_start, 0.50),
            "p90_ms": ms_json(&client_api_start, 0.90),
            "p99_ms": ms_json(&client_api_start, 0.99),
            "max_ms": ms_json(&client_api_start, 1.0),
            "measured": client_api_start.len(),
            "definition": "client: request sent -> started_at of GET /v1/tasks (first TaskStarted, ms resolution)",
            // From the request to the executor's attempts.started_at (µs).
            "exec_p50_ms": ms_json(&client_exec_start, 0.50),
            "exec_p99_ms": ms_json(&client_exec_start, 0.99),
            // From tasks.created_at (svc-tasks took the task), as in the table of `make bench`.
            "service": {
                "start_p50_ms": ms_json(&started, 0.50),
                "start_p99_ms": ms_json(&started, 0.99),
                "done_p50_ms": ms_json(&done, 0.50),
                "done_p99_ms": ms_json(&done, 0.99),
                "seen_p50_ms": ms_json(&seen, 0.50),
                "seen_p99_ms": ms_json(&seen, 0.99),
                "ingest_p50_ms": ms_json(&ingest, 0.50),
                "ingest_p99_ms": ms_json(&ingest, 0.99),
            },
        });
        if let Some(path) = &args.samples_out {
            object["samples_file"] = json!(path.file_name().map(|f| f.to_string_lossy()));
        }
        if let (Some((before, own_before)), Some((after, own_after))) = (&cpu_before, &cpu_after) {
            let cpu: BTreeMap<&String, f64> = after
                .iter()
                .map(|(k, v)| (k, v - before.get(k).copied().unwrap_or(0.0)))
                .collect();
            let total: f64 = cpu.values().sum();
            object["cpu_s"] = json!(cpu);
            object["cpu_total_s"] = json!(total);
            object["cpu_s_per_1000"] = json!(total / n.max(1) as f64 * 1000.0);
            object["cpu_s_not_counted"] = json!({ "bench-e2e": own_after - own_before });
            if let Some((secs, at, own_at)) = &settled {
                let cpu: BTreeMap<&String, f64> = at
                    .iter()
                    .map(|(k, v)| (k, v - before.get(k).copied().unwrap_or(0.0)))
                    .collect();
                let total: f64 = cpu.values().sum();
                object["settled_secs"] = json!(secs);
                object["cpu_settled_s"] = json!(cpu);
                object["cpu_settled_s_per_1000"] = json!(total / n.max(1) as f64 * 1000.0);
                object["cpu_s_not_counted"] = json!({ "bench-e2e": own_at - own_before });
            }
        }
        if let Some(before) = commits_before {
            object["commits_before"] = json!(before);
            object["own_commits"] = json!(dbs.commits());
            object["stat_dbs"] = json!(args.stat_dbs);
        }
        println!("{object}");
    } else {
        if args.header {
            println!(
                "{:<12} {:>6} {:>8} {:>7} {:>7} | {:>7} {:>7} {:>7} | {:>7} {:>7} {:>7} | {:>7} {:>7} | {:>7} {:>7} | per instance",
                "run",
                "tasks",
                "submit/s",
                "done/s",
                "seen/s",
                "start50",
                "start95",
                "start99",
                "done50",
                "done95",
                "done99",
                "seen50",
                "seen99",
                "ingst50",
                "ingst99",
            );
        }
        println!(
            "{:<12} {:>6} {:>8.0} {:>7.0} {:>7.0} | {:>7} {:>7} {:>7} | {:>7} {:>7} {:>7} | {:>7} {:>7} | {:>7} {:>7} | {}",
            args.label,
            n,
            n as f64 / submit_secs,
            completed as f64 / done_secs.max(0.001),
            n as f64 / seen_secs.max(0.001),
            ms_column(&started, 0.50),
            ms_column(&started, 0.95),
            ms_column(&started, 0.99),
            ms_column(&done, 0.50),
            ms_column(&done, 0.95),
            ms_column(&done, 0.99),
            ms_column(&seen, 0.50),
            ms_column(&seen, 0.99),
            ms_column(&ingest, 0.50),
            ms_column(&ingest, 0.99),
            split,
        );
    }
    if failed > 0 || completed != n || seen.len() as usize != n {
        let detail: Vec<String> = run
            .errors
            .iter()
            .map(|(s, c)| format!("{s}: {c}"))
            .collect();
        eprintln!(
            "bench-e2e {}: {failed} request(s) failed [{}]; {completed} of {n} tasks completed in the executor, {} seen completed by svc-tasks",
            args.label,
            detail.join(", "),
            seen.len()
        );
    }
    Ok(())
}
