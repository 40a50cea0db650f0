//! End-to-end benchmark of `noop` tasks (`make bench`, after the submission runs): submits
//! `--tasks` tasks through `POST /v1/tasks:batch` (`--concurrency` requests in flight, or paced
//! with `--rate`), waits until every one is completed, and reads the timings the services
//! recorded themselves, so no service code is involved:
//!
//! * submitted: `tasks.created_at` in svc-tasks' database (its clock when it took the task);
//! * started: `attempts.started_at` in svc-executor's database (the lease was taken);
//! * done: `attempts.ended_at` (the executor recorded the outcome);
//! * seen: `task_events.recorded_at` of the TaskCompleted that svc-tasks consumed back from
//!   Kafka, i.e. when `GET /v1/tasks/{id}` starts answering `completed`;
//! * ingest: `executions.created_at`, when the executor queued the TaskCreated from Kafka.
//!
//! Both services run on this machine, so their clocks agree. Throughput is tasks / (first
//! request sent -> last task done, or seen by svc-tasks); `seen/s` uses the moment this tool
//! observed the last completion in svc-tasks' projection (polled every 100 ms).
//!
//! A warm-up (`--warmup-tasks`, same tenant) runs to completion first, so the executors' consumer
//! assignment, connection pools and caches are settled. Database URLs and the API key come from
//! the environment (BENCH_TASKS_DB_URL, BENCH_EXECUTOR_DB_URL, BENCH_API_KEY) to keep them out of
//! `ps`. Prints one table row (with `--header`, the header first); problems go to stderr.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::Parser;
use diesel::sql_types::{BigInt, Nullable, Text, Uuid as SqlUuid};
use diesel::{QueryableByName, sql_query};
use diesel_async::RunQueryDsl;
use hdrhistogram::Histogram;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde::Deserialize;
use taskflow_platform::db::{self, DbPool};
use tokio::sync::Mutex;
use uuid::Uuid;

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
    /// Batch requests in flight.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Submit at most this many tasks per second (0: as fast as the batches go).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Give up when the tasks are not all finished this long after the first request.
    #[arg(long, default_value_t = 180)]
    timeout_secs: u64,
    /// Print the table header before the row.
    #[arg(long)]
    header: bool,
}

#[derive(Deserialize)]
struct BatchCreated {
    tasks: Vec<CreatedTask>,
}

#[derive(Deserialize)]
struct CreatedTask {
    id: Uuid,
}

#[derive(QueryableByName)]
struct TenantRow {
    #[diesel(sql_type = SqlUuid)]
    tenant_id: Uuid,
}

#[derive(QueryableByName)]
struct Counts {
    #[diesel(sql_type = BigInt)]
    completed: i64,
    #[diesel(sql_type = BigInt)]
    other_final: i64,
    /// Not finished yet (svc-tasks: pending/queued/running/retrying; executor: queued/running).
    #[diesel(sql_type = BigInt)]
    unfinished: i64,
}

/// One task as svc-tasks recorded it (µs since the epoch).
#[derive(QueryableByName)]
struct TaskTimes {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = BigInt)]
    created_us: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    seen_us: Option<i64>,
}

/// One completed execution as svc-executor recorded it (µs since the epoch).
#[derive(QueryableByName)]
struct ExecutionTimes {
    #[diesel(sql_type = SqlUuid)]
    task_id: Uuid,
    #[diesel(sql_type = BigInt)]
    ingested_us: i64,
    #[diesel(sql_type = BigInt)]
    started_us: i64,
    #[diesel(sql_type = BigInt)]
    ended_us: i64,
    #[diesel(sql_type = Text)]
    instance: String,
}

struct Submitter {
    client: reqwest::Client,
    endpoint: String,
    auth: HeaderValue,
    body: String,
    batch_size: usize,
}

struct Submitted {
    ids: Vec<Uuid>,
    errors: BTreeMap<String, u64>,
}

impl Submitter {
    /// Sends `total` tasks in batches, `concurrency` requests in flight, paced to `rate` tasks/s
    /// when it is positive. Failed batches are counted, not retried.
    async fn submit(&self, total: usize, concurrency: usize, rate: f64) -> Submitted {
        let batches = total.div_ceil(self.batch_size);
        let next = AtomicUsize::new(0);
        let out = Mutex::new(Submitted {
            ids: Vec::with_capacity(total),
            errors: BTreeMap::new(),
        });
        let start = Instant::now();
        let worker = async || {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= batches {
                    break;
                }
                if rate > 0.0 {
                    let due = start
                        + Duration::from_secs_f64((i * self.batch_size) as f64 / rate.max(0.001));
                    tokio::time::sleep_until(due.into()).await;
                }
                let outcome = self.send_batch().await;
                let mut out = out.lock().await;
                match outcome {
                    Ok(ids) => out.ids.extend(ids),
                    Err(kind) => *out.errors.entry(kind).or_default() += 1,
                }
            }
        };
        futures::future::join_all((0..concurrency.max(1)).map(|_| worker())).await;
        out.into_inner()
    }

    async fn send_batch(&self) -> Result<Vec<Uuid>, String> {
        let response = self
            .client
            .post(&self.endpoint)
            .header(AUTHORIZATION, self.auth.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(self.body.clone())
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "timeout"
                } else {
                    "transport"
                }
                .to_owned()
            })?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|_| "transport".to_owned())?;
        if !status.is_success() {
            return Err(status.as_str().to_owned());
        }
        let created: BatchCreated =
            serde_json::from_slice(&bytes).map_err(|_| "unreadable 2xx body".to_owned())?;
        Ok(created.tasks.into_iter().map(|t| t.id).collect())
    }
}

fn noop_batch(batch_size: usize) -> String {
    let one = r#"{"type":"noop","payload":{}}"#;
    format!(r#"{{"tasks":[{}]}}"#, vec![one; batch_size].join(","))
}

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("set {name}"))
}

async fn tenant_of(tasks_db: &DbPool, task_id: Uuid) -> anyhow::Result<Uuid> {
    let mut conn = tasks_db.get().await?;
    let rows: Vec<TenantRow> = sql_query("SELECT tenant_id FROM tasks WHERE id = $1")
        .bind::<SqlUuid, _>(task_id)
        .load(&mut conn)
        .await?;
    // (`first` would be diesel's RunQueryDsl::first, which every type has.)
    rows.into_iter()
        .next()
        .map(|r| r.tenant_id)
        .with_context(|| format!("task {task_id} is not in svc-tasks' database"))
}

/// Finished tasks of the tenant: (in svc-tasks' projection, in the executor's queue).
async fn counts(tasks_db: &DbPool, exec_db: &DbPool, tenant: Uuid) -> anyhow::Result<[Counts; 2]> {
    let mut conn = tasks_db.get().await?;
    let seen: Counts = sql_query(
        "SELECT count(*) FILTER (WHERE status = 'completed') AS completed, \
                count(*) FILTER (WHERE status IN ('failed', 'cancelled')) AS other_final, \
                count(*) FILTER (WHERE status NOT IN ('completed', 'failed', 'cancelled')) AS unfinished \
         FROM tasks WHERE tenant_id = $1",
    )
    .bind::<SqlUuid, _>(tenant)
    .get_result(&mut conn)
    .await?;
    let mut conn = exec_db.get().await?;
    let done: Counts = sql_query(
        "SELECT count(*) FILTER (WHERE state = 'completed') AS completed, \
                count(*) FILTER (WHERE state IN ('failed', 'cancelled')) AS other_final, \
                count(*) FILTER (WHERE state IN ('queued', 'running')) AS unfinished \
         FROM executions WHERE tenant_id = $1",
    )
    .bind::<SqlUuid, _>(tenant)
    .get_result(&mut conn)
    .await?;
    Ok([seen, done])
}

/// Polls until svc-tasks shows `target` finished tasks of the tenant (and the executor agrees);
/// returns when that was observed.
async fn wait_finished(
    tasks_db: &DbPool,
    exec_db: &DbPool,
    tenant: Uuid,
    target: i64,
    deadline: Instant,
) -> anyhow::Result<Instant> {
    loop {
        let [seen, done] = counts(tasks_db, exec_db, tenant).await?;
        let now = Instant::now();
        if seen.completed + seen.other_final >= target
            && done.completed + done.other_final >= target
        {
            return Ok(now);
        }
        if now > deadline {
            bail!(
                "timed out: of {target} tasks, svc-tasks shows {} completed + {} failed/cancelled + {} unfinished, \
                 the executor {} completed + {} failed/cancelled + {} queued/running (the rest never reached its queue)",
                seen.completed,
                seen.other_final,
                seen.unfinished,
                done.completed,
                done.other_final,
                done.unfinished
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn histogram() -> anyhow::Result<Histogram<u64>> {
    // 1 µs to 1 h, 3 significant digits.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).context("histogram bounds")
}

fn record(h: &mut Histogram<u64>, from_us: i64, to_us: i64) {
    h.saturating_record(u64::try_from(to_us - from_us).unwrap_or(0).max(1));
}

/// Milliseconds, one decimal below 100 ms.
fn ms(h: &Histogram<u64>, q: f64) -> String {
    let v = h.value_at_quantile(q) as f64 / 1000.0;
    if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

fn epoch_us(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.tasks > 0, "--tasks must be at least 1");
    anyhow::ensure!(
        (1..=1000).contains(&args.batch_size),
        "--batch-size must be 1 to 1000"
    );
    let tasks_db = db::pool(&env("BENCH_TASKS_DB_URL")?, 2)?;
    let exec_db = db::pool(&env("BENCH_EXECUTOR_DB_URL")?, 2)?;
    let mut auth = HeaderValue::from_str(&format!("Bearer {}", env("BENCH_API_KEY")?.trim()))
        .context("API key")?;
    auth.set_sensitive(true);
    let submitter = Submitter {
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(args.concurrency)
            .timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .build()
            .context("HTTP client")?,
        endpoint: format!("{}/v1/tasks:batch", args.url.trim_end_matches('/')),
        auth,
        body: noop_batch(args.batch_size),
        batch_size: args.batch_size,
    };

    // Warm-up, run to completion in the same tenant.
    let mut tenant = None;
    let mut baseline = 0i64;
    if args.warmup_tasks > 0 {
        let warm = submitter
            .submit(args.warmup_tasks, args.concurrency, 0.0)
            .await;
        let first = *<[Uuid]>::first(&warm.ids)
            .with_context(|| format!("every warm-up batch failed: {:?}", warm.errors))?;
        let t = tenant_of(&tasks_db, first).await?;
        let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
        wait_finished(&tasks_db, &exec_db, t, warm.ids.len() as i64, deadline)
            .await
            .context("warm-up")?;
        tenant = Some(t);
    }
    if let Some(t) = tenant {
        let [seen, _] = counts(&tasks_db, &exec_db, t).await?;
        baseline = seen.completed + seen.other_final;
    }

    // The measured run.
    let t0_wall = epoch_us(SystemTime::now());
    let t0 = Instant::now();
    let run = submitter
        .submit(args.tasks, args.concurrency, args.rate)
        .await;
    let submit_secs = t0.elapsed().as_secs_f64();
    let first = *<[Uuid]>::first(&run.ids)
        .with_context(|| format!("every batch failed: {:?}", run.errors))?;
    let tenant = match tenant {
        Some(t) => t,
        None => tenant_of(&tasks_db, first).await?,
    };
    let n = run.ids.len();
    let seen_at = wait_finished(
        &tasks_db,
        &exec_db,
        tenant,
        baseline + n as i64,
        t0 + Duration::from_secs(args.timeout_secs),
    )
    .await?;
    let seen_secs = seen_at.duration_since(t0).as_secs_f64();

    // Timings recorded by the services, joined here by task id.
    let ours: HashSet<Uuid> = run.ids.iter().copied().collect();
    let mut conn = tasks_db.get().await?;
    let task_rows: Vec<TaskTimes> = sql_query(
        "SELECT t.id, (extract(epoch FROM t.created_at) * 1000000)::int8 AS created_us, \
                (SELECT (extract(epoch FROM min(e.recorded_at)) * 1000000)::int8 FROM task_events e \
                 WHERE e.stream_id = t.id AND e.event_type = 'TaskCompleted') AS seen_us \
         FROM tasks t WHERE t.tenant_id = $1",
    )
    .bind::<SqlUuid, _>(tenant)
    .load(&mut conn)
    .await?;
    drop(conn);
    let mut conn = exec_db.get().await?;
    let exec_rows: Vec<ExecutionTimes> = sql_query(
        "SELECT x.task_id, (extract(epoch FROM x.created_at) * 1000000)::int8 AS ingested_us, \
                (extract(epoch FROM min(a.started_at)) * 1000000)::int8 AS started_us, \
                (extract(epoch FROM max(a.ended_at)) * 1000000)::int8 AS ended_us, \
                coalesce(max(a.instance) FILTER (WHERE a.outcome = 'completed'), '?') AS instance \
         FROM executions x JOIN attempts a USING (task_id) \
         WHERE x.tenant_id = $1 AND x.state = 'completed' \
         GROUP BY x.task_id, x.created_at",
    )
    .bind::<SqlUuid, _>(tenant)
    .load(&mut conn)
    .await?;
    drop(conn);

    let created: HashMap<Uuid, (i64, Option<i64>)> = task_rows
        .into_iter()
        .filter(|r| ours.contains(&r.id))
        .map(|r| (r.id, (r.created_us, r.seen_us)))
        .collect();
    let (mut started, mut done, mut seen, mut ingest) =
        (histogram()?, histogram()?, histogram()?, histogram()?);
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
        last_end = last_end.max(row.ended_us);
        *per_instance.entry(row.instance).or_default() += 1;
    }
    let done_secs = (last_end - t0_wall) as f64 / 1e6;
    let split = per_instance
        .iter()
        .map(|(i, c)| format!("{i}={c}"))
        .collect::<Vec<_>>()
        .join(",");

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
        ms(&started, 0.50),
        ms(&started, 0.95),
        ms(&started, 0.99),
        ms(&done, 0.50),
        ms(&done, 0.95),
        ms(&done, 0.99),
        ms(&seen, 0.50),
        ms(&seen, 0.99),
        ms(&ingest, 0.50),
        ms(&ingest, 0.99),
        split,
    );
    let failed: u64 = run.errors.values().sum();
    if failed > 0 || completed != n || seen.len() as usize != n {
        let detail: Vec<String> = run
            .errors
            .iter()
            .map(|(s, c)| format!("{s}: {c}"))
            .collect();
        eprintln!(
            "bench-e2e {}: {failed} batch(es) failed [{}]; {completed} of {n} tasks completed in the executor, {} seen completed by svc-tasks",
            args.label,
            detail.join(", "),
            seen.len()
        );
    }
    Ok(())
}
