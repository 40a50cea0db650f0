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
//! that the caller, who reads the counter again after the services stopped, can subtract them.
//! While measuring, completion is polled with one cheap statement (`EXISTS` of an unfinished
//! task of the tenant) instead of counting.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::Parser;
use diesel::QueryResult;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Uuid as SqlUuid};
use diesel::{QueryableByName, sql_query};
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use hdrhistogram::Histogram;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde::Deserialize;
use serde_json::json;
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
    /// How often completion is polled, in milliseconds.
    #[arg(long, default_value_t = 100)]
    poll_ms: u64,
}

fn named_pid(s: &str) -> Result<(String, u32), String> {
    let (name, pid) = s.split_once('=').ok_or("expected NAME=PID")?;
    let pid = pid.parse().map_err(|e| format!("pid {pid:?}: {e}"))?;
    Ok((name.to_owned(), pid))
}

#[derive(Deserialize)]
struct BatchCreated {
    tasks: Vec<CreatedTask>,
}

#[derive(Deserialize)]
struct CreatedTask {
    id: Uuid,
}

/// A page of `GET /v1/tasks`.
#[derive(Deserialize)]
struct TaskPage {
    tasks: Vec<ListedTask>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct ListedTask {
    id: Uuid,
    started_at: Option<DateTime<Utc>>,
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

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    found: bool,
}

#[derive(QueryableByName)]
struct Commits {
    #[diesel(sql_type = BigInt)]
    commits: i64,
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
    base: String,
    endpoint: String,
    auth: HeaderValue,
    body: String,
    /// Tasks per request.
    per_request: usize,
    single: bool,
}

struct Submitted {
    /// Task id and when its request was sent (µs since the epoch).
    tasks: Vec<(Uuid, i64)>,
    errors: BTreeMap<String, u64>,
    /// Largest delay of a paced request behind its schedule.
    late_max: Duration,
}

impl Submitter {
    /// Sends `total` tasks, `concurrency` requests in flight, paced to `rate` tasks/s when it is
    /// positive. Failed requests are counted, not retried.
    async fn submit(&self, total: usize, concurrency: usize, rate: f64) -> Submitted {
        let requests = total.div_ceil(self.per_request);
        let next = AtomicUsize::new(0);
        let out = Mutex::new(Submitted {
            tasks: Vec::with_capacity(total),
            errors: BTreeMap::new(),
            late_max: Duration::ZERO,
        });
        let start = Instant::now();
        let worker = async || {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                let mut late = Duration::ZERO;
                if rate > 0.0 {
                    let due = start
                        + Duration::from_secs_f64((i * self.per_request) as f64 / rate.max(0.001));
                    tokio::time::sleep_until(due.into()).await;
                    late = Instant::now().saturating_duration_since(due);
                }
                let sent = epoch_us(SystemTime::now());
                let outcome = self.send().await;
                let mut out = out.lock().await;
                out.late_max = out.late_max.max(late);
                match outcome {
                    Ok(ids) => out.tasks.extend(ids.into_iter().map(|id| (id, sent))),
                    Err(kind) => *out.errors.entry(kind).or_default() += 1,
                }
            }
        };
        futures::future::join_all((0..concurrency.max(1)).map(|_| worker())).await;
        out.into_inner()
    }

    async fn send(&self) -> Result<Vec<Uuid>, String> {
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
        let unreadable = |_| "unreadable 2xx body".to_owned();
        if self.single {
            let created: CreatedTask = serde_json::from_slice(&bytes).map_err(unreadable)?;
            Ok(vec![created.id])
        } else {
            let created: BatchCreated = serde_json::from_slice(&bytes).map_err(unreadable)?;
            Ok(created.tasks.into_iter().map(|t| t.id).collect())
        }
    }

    /// `started_at` of every task of the tenant as `GET /v1/tasks` shows it (µs since the epoch).
    async fn started_via_api(&self) -> anyhow::Result<HashMap<Uuid, i64>> {
        let mut started = HashMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("{}/v1/tasks?limit=500", self.base);
            if let Some(c) = &cursor {
                anyhow::ensure!(
                    c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-'),
                    "unexpected cursor {c:?}"
                );
                url.push_str("&cursor=");
                url.push_str(c);
            }
            let response = self
                .client
                .get(&url)
                .header(AUTHORIZATION, self.auth.clone())
                .send()
                .await
                .context("GET /v1/tasks")?;
            let status = response.status();
            anyhow::ensure!(status.is_success(), "GET /v1/tasks answered {status}");
            let page: TaskPage = response.json().await.context("GET /v1/tasks body")?;
            for task in page.tasks {
                if let Some(at) = task.started_at {
                    started.insert(task.id, at.timestamp_micros());
                }
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(started),
            }
        }
    }
}

fn noop_batch(batch_size: usize) -> String {
    let one = r#"{"type":"noop","payload":{}}"#;
    format!(r#"{{"tasks":[{}]}}"#, vec![one; batch_size].join(","))
}

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("set {name}"))
}

/// The bench databases and how many transactions this tool committed on them.
///
/// Every statement runs between `BEGIN` and `COMMIT` sent as simple queries, so it is exactly
/// one commit in pg_stat_database: on its own, a statement diesel-async does not cache is two
/// (the protocol-level Parse/Sync that prepares it is a transaction too).
struct Dbs {
    tasks: DbPool,
    exec: DbPool,
    commits: AtomicUsize,
}

impl Dbs {
    async fn begin(&self, conn: &mut AsyncPgConnection) -> anyhow::Result<()> {
        conn.batch_execute("BEGIN").await?;
        Ok(())
    }

    async fn end<T>(
        &self,
        conn: &mut AsyncPgConnection,
        result: QueryResult<T>,
    ) -> anyhow::Result<T> {
        match result {
            Ok(value) => {
                conn.batch_execute("COMMIT").await?;
                self.commits.fetch_add(1, Ordering::Relaxed);
                Ok(value)
            }
            Err(e) => {
                // A failed statement's transaction rolls back: not a commit.
                let _ = conn.batch_execute("ROLLBACK").await;
                Err(e.into())
            }
        }
    }

    fn commits(&self) -> usize {
        // (`self.commits.load` would be diesel's RunQueryDsl::load, which every type has.)
        AtomicUsize::load(&self.commits, Ordering::Relaxed)
    }

    /// Opens the connections (establishing one commits a few setup statements) before the
    /// counters are read.
    async fn prime(&self) -> anyhow::Result<()> {
        self.counts(Uuid::nil()).await?;
        Ok(())
    }

    async fn tenant_rows(&self, task_id: Uuid) -> anyhow::Result<Vec<TenantRow>> {
        let mut conn = self.tasks.get().await?;
        self.begin(&mut conn).await?;
        let rows = sql_query("SELECT tenant_id FROM tasks WHERE id = $1")
            .bind::<SqlUuid, _>(task_id)
            .load(&mut conn)
            .await;
        self.end(&mut conn, rows).await
    }

    async fn tenant_of(&self, task_id: Uuid) -> anyhow::Result<Uuid> {
        // (`first` would be diesel's RunQueryDsl::first, which every type has.)
        self.tenant_rows(task_id)
            .await?
            .into_iter()
            .next()
            .map(|r| r.tenant_id)
            .with_context(|| format!("task {task_id} is not in svc-tasks' database"))
    }

    /// Is a task of the tenant unfinished in svc-tasks' projection? (an index lookup)
    async fn any_unfinished(
        &self,
        conn: &mut AsyncPgConnection,
        tenant: Uuid,
    ) -> anyhow::Result<bool> {
        self.begin(conn).await?;
        let open = sql_query(
            "SELECT EXISTS (SELECT 1 FROM tasks WHERE tenant_id = $1 \
             AND status IN ('pending', 'running', 'retrying')) AS found",
        )
        .bind::<SqlUuid, _>(tenant)
        .get_result::<Exists>(conn)
        .await;
        Ok(self.end(conn, open).await?.found)
    }

    async fn task_times(&self, tenant: Uuid) -> anyhow::Result<Vec<TaskTimes>> {
        let mut conn = self.tasks.get().await?;
        self.begin(&mut conn).await?;
        let rows = sql_query(
            "SELECT t.id, (extract(epoch FROM t.created_at) * 1000000)::int8 AS created_us, \
                    (SELECT (extract(epoch FROM min(e.recorded_at)) * 1000000)::int8 FROM task_events e \
                     WHERE e.stream_id = t.id AND e.event_type = 'TaskCompleted') AS seen_us \
             FROM tasks t WHERE t.tenant_id = $1",
        )
        .bind::<SqlUuid, _>(tenant)
        .load(&mut conn)
        .await;
        self.end(&mut conn, rows).await
    }

    async fn exec_times(&self, tenant: Uuid) -> anyhow::Result<Vec<ExecutionTimes>> {
        let mut conn = self.exec.get().await?;
        self.begin(&mut conn).await?;
        let rows = sql_query(
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
        .await;
        self.end(&mut conn, rows).await
    }

    /// Finished tasks of the tenant: (in svc-tasks' projection, in the executor's queue).
    async fn counts(&self, tenant: Uuid) -> anyhow::Result<[Counts; 2]> {
        let mut conn = self.tasks.get().await?;
        self.begin(&mut conn).await?;
        let seen = sql_query(
            "SELECT count(*) FILTER (WHERE status = 'completed') AS completed, \
                    count(*) FILTER (WHERE status IN ('failed', 'cancelled')) AS other_final, \
                    count(*) FILTER (WHERE status NOT IN ('completed', 'failed', 'cancelled')) AS unfinished \
             FROM tasks WHERE tenant_id = $1",
        )
        .bind::<SqlUuid, _>(tenant)
        .get_result::<Counts>(&mut conn)
        .await;
        let seen = self.end(&mut conn, seen).await?;
        let mut conn = self.exec.get().await?;
        self.begin(&mut conn).await?;
        let done = sql_query(
            "SELECT count(*) FILTER (WHERE state = 'completed') AS completed, \
                    count(*) FILTER (WHERE state IN ('failed', 'cancelled')) AS other_final, \
                    count(*) FILTER (WHERE state IN ('queued', 'running')) AS unfinished \
             FROM executions WHERE tenant_id = $1",
        )
        .bind::<SqlUuid, _>(tenant)
        .get_result::<Counts>(&mut conn)
        .await;
        let done = self.end(&mut conn, done).await?;
        Ok([seen, done])
    }

    /// Polls until svc-tasks shows `target` finished tasks of the tenant (and the executor
    /// agrees); returns when that was observed.
    async fn wait_finished(
        &self,
        tenant: Uuid,
        target: i64,
        deadline: Instant,
        poll: Duration,
    ) -> anyhow::Result<Instant> {
        loop {
            let [seen, done] = self.counts(tenant).await?;
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
            tokio::time::sleep(poll).await;
        }
    }

    /// Polls (one index lookup per poll, on svc-tasks' database only) until no task of the
    /// tenant is unfinished in svc-tasks' projection; the caller then checks the counts.
    async fn wait_none_unfinished(
        &self,
        tenant: Uuid,
        deadline: Instant,
        poll: Duration,
    ) -> anyhow::Result<Instant> {
        let mut conn = self.tasks.get().await?;
        loop {
            let open = self.any_unfinished(&mut conn, tenant).await?;
            let now = Instant::now();
            if !open {
                return Ok(now);
            }
            if now > deadline {
                drop(conn);
                let [seen, done] = self.counts(tenant).await?;
                bail!(
                    "timed out: svc-tasks shows {} completed + {} failed/cancelled + {} unfinished, \
                     the executor {} completed + {} failed/cancelled + {} queued/running",
                    seen.completed,
                    seen.other_final,
                    seen.unfinished,
                    done.completed,
                    done.other_final,
                    done.unfinished
                );
            }
            tokio::time::sleep(poll).await;
        }
    }
}

/// CPU seconds of the named processes and of the PostgreSQL cluster, from /proc.
struct CpuProbe {
    named: Vec<(String, u32)>,
    postmaster: Option<u32>,
    ticks_per_sec: f64,
}

/// (utime + stime, cutime + cstime, parent pid) of a process, in clock ticks.
fn proc_stat(pid: &str) -> Option<(u64, u64, u32)> {
    let raw = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    let rest = &raw[raw.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state): field k is fields[k - 3].
    let num = |k: usize| fields.get(k - 3).and_then(|v| v.parse::<u64>().ok());
    Some((
        num(14)? + num(15)?,
        num(16)? + num(17)?,
        u32::try_from(num(4)?).ok()?,
    ))
}

impl CpuProbe {
    fn snapshot(&self) -> anyhow::Result<BTreeMap<String, f64>> {
        let mut out = BTreeMap::new();
        for (name, pid) in &self.named {
            let (own, _, _) = proc_stat(&pid.to_string())
                .with_context(|| format!("{name} (pid {pid}) is gone"))?;
            *out.entry(name.clone()).or_default() += own as f64 / self.ticks_per_sec;
        }
        if let Some(pm) = self.postmaster {
            let (own, children, _) =
                proc_stat(&pm.to_string()).with_context(|| format!("postmaster {pm} is gone"))?;
            let mut ticks = own + children;
            for entry in std::fs::read_dir("/proc")?.flatten() {
                let name = entry.file_name();
                let Some(pid) = name
                    .to_str()
                    .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
                else {
                    continue;
                };
                if let Some((own, children, ppid)) = proc_stat(pid)
                    && ppid == pm
                    && pid != pm.to_string()
                {
                    ticks += own + children;
                }
            }
            out.insert("postgres".to_owned(), ticks as f64 / self.ticks_per_sec);
        }
        Ok(out)
    }
}

fn own_cpu(ticks_per_sec: f64) -> f64 {
    proc_stat("self").map_or(0.0, |(own, _, _)| own as f64 / ticks_per_sec)
}

async fn read_commits(admin_url: &str, dbs: &[String]) -> anyhow::Result<i64> {
    use diesel_async::AsyncConnection;
    let mut conn = AsyncPgConnection::establish(admin_url)
        .await
        .context("connecting to BENCH_ADMIN_DB_URL")?;
    let mut total = 0;
    for db in dbs {
        let row: Commits = sql_query(
            "SELECT coalesce(sum(xact_commit), 0)::int8 AS commits FROM pg_stat_database WHERE datname = $1",
        )
        .bind::<Text, _>(db)
        .get_result(&mut conn)
        .await?;
        total += row.commits;
    }
    Ok(total)
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

/// Milliseconds (µs resolution) for the JSON object; null without samples.
fn ms_json(h: &Histogram<u64>, q: f64) -> serde_json::Value {
    if h.is_empty() {
        serde_json::Value::Null
    } else {
        json!(h.value_at_quantile(q) as f64 / 1000.0)
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
    let measuring = args.json && (!args.cpu_pids.is_empty() || args.pg_postmaster.is_some());
    let dbs = Dbs {
        tasks: db::pool(&env("BENCH_TASKS_DB_URL")?, 2)?,
        exec: db::pool(&env("BENCH_EXECUTOR_DB_URL")?, 2)?,
        commits: AtomicUsize::new(0),
    };
    let admin_url = if args.stat_dbs.is_empty() {
        None
    } else {
        Some(env("BENCH_ADMIN_DB_URL")?)
    };
    let probe = CpuProbe {
        named: args.cpu_pids.clone(),
        postmaster: args.pg_postmaster,
        ticks_per_sec: args.clk_tck.max(1) as f64,
    };
    let poll = Duration::from_millis(args.poll_ms.max(1));
    let mut auth = HeaderValue::from_str(&format!("Bearer {}", env("BENCH_API_KEY")?.trim()))
        .context("API key")?;
    auth.set_sensitive(true);
    let base = args.url.trim_end_matches('/').to_owned();
    let (endpoint, body, per_request) = if args.single {
        (
            format!("{base}/v1/tasks"),
            r#"{"type":"noop","payload":{}}"#.to_owned(),
            1,
        )
    } else {
        (
            format!("{base}/v1/tasks:batch"),
            noop_batch(args.batch_size),
            args.batch_size,
        )
    };
    let submitter = Submitter {
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(args.concurrency)
            .timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .build()
            .context("HTTP client")?,
        base,
        endpoint,
        auth,
        body,
        per_request,
        single: args.single,
    };

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
    dbs.commits.store(0, Ordering::Relaxed);
    let cpu_before = if measuring {
        Some((probe.snapshot()?, own_cpu(probe.ticks_per_sec)))
    } else {
        None
    };

    // The measured run.
    let t0_wall = epoch_us(SystemTime::now());
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
        Some((probe.snapshot()?, own_cpu(probe.ticks_per_sec)))
    } else {
        None
    };
    let seen_secs = seen_at.duration_since(t0).as_secs_f64();

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
