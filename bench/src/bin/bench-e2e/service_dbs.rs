//! bench-e2e's reads of svc-tasks' and svc-executor's own databases, and of PostgreSQL's
//! statistics. These are the services' private tables, read here on purpose; no endpoint serves
//! what is read, for these reasons (each read says which applies):
//!
//! * **No endpoint has it.** svc-executor serves no API, only `/health` and `/metrics` (queue
//!   depth over all tenants): its per-task rows (`executions`, `attempts`: when it queued,
//!   leased and finished each task, on which instance, in µs) are nowhere else. Neither is the
//!   tenant of a task (no response of svc-tasks names the tenant of an API key or a task), nor
//!   PostgreSQL's own commit counter.
//! * **Asking would change what is measured.** Every request to svc-tasks runs in the service
//!   under test: its CPU is counted (`--cpu-pid svc-tasks`) and the transactions it commits
//!   land in the commits per task of `make bench-peers`, which subtracts only this tool's own
//!   (`own_commits`, counted here). So completion is polled with one indexed statement, not
//!   through `GET /v1/tasks`, and the timings are read once with one statement per database
//!   rather than `GET /v1/tasks/{id}/events` for each of thousands of tasks (that endpoint
//!   has `recorded_at`, but at one request per task).
//!
//! * **Waiting for the followers.** svc-notify and svc-scheduler serve no view of how far they
//!   have consumed: whether svc-notify's projection has every task of the tenant finished, and
//!   whether any service's outbox still holds unpublished rows, is asked of their databases
//!   (`wait_settled`), each an index lookup.
//!
//! What is public is read through the API: the `started_at` svc-tasks exposes
//! (`Submitter::started_via_api`), for the latency samples of `make bench-peers`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use diesel::QueryResult;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Uuid as SqlUuid};
use diesel::{QueryableByName, sql_query};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use taskflow_platform::db::{self, DbPool};
use uuid::Uuid;

#[derive(QueryableByName)]
struct TenantRow {
    #[diesel(sql_type = SqlUuid)]
    tenant_id: Uuid,
}

#[derive(QueryableByName)]
pub struct Counts {
    #[diesel(sql_type = BigInt)]
    pub completed: i64,
    #[diesel(sql_type = BigInt)]
    pub other_final: i64,
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
pub struct TaskTimes {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = BigInt)]
    pub created_us: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub seen_us: Option<i64>,
}

/// One completed execution as svc-executor recorded it (µs since the epoch).
#[derive(QueryableByName)]
pub struct ExecutionTimes {
    #[diesel(sql_type = SqlUuid)]
    pub task_id: Uuid,
    #[diesel(sql_type = BigInt)]
    pub ingested_us: i64,
    #[diesel(sql_type = BigInt)]
    pub started_us: i64,
    #[diesel(sql_type = BigInt)]
    pub ended_us: i64,
    #[diesel(sql_type = Text)]
    pub instance: String,
}

/// The bench databases and how many transactions this tool committed on them.
///
/// Every statement runs between `BEGIN` and `COMMIT` sent as simple queries, so it is exactly
/// one commit in pg_stat_database: on its own, a statement diesel-async does not cache is two
/// (the protocol-level Parse/Sync that prepares it is a transaction too).
pub struct Dbs {
    tasks: DbPool,
    exec: DbPool,
    /// svc-notify's and svc-scheduler's databases, when the run waits for them (`--settle`).
    notify: Option<DbPool>,
    scheduler: Option<DbPool>,
    commits: AtomicUsize,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

impl Dbs {
    /// Pools of two connections to svc-tasks' and svc-executor's databases.
    pub fn new(tasks_url: &str, exec_url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            tasks: db::pool(tasks_url, 2)?,
            exec: db::pool(exec_url, 2)?,
            notify: None,
            scheduler: None,
            commits: AtomicUsize::new(0),
        })
    }

    /// Also svc-notify's and (when given) svc-scheduler's databases, for `wait_settled`.
    pub fn with_followers(
        mut self,
        notify_url: &str,
        scheduler_url: Option<&str>,
    ) -> anyhow::Result<Self> {
        self.notify = Some(db::pool(notify_url, 1)?);
        self.scheduler = scheduler_url.map(|u| db::pool(u, 1)).transpose()?;
        Ok(self)
    }

    /// Counts this tool's commits from now on.
    pub fn reset_commits(&self) {
        self.commits.store(0, Ordering::Relaxed);
    }

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

    pub fn commits(&self) -> usize {
        // (`self.commits.load` would be diesel's RunQueryDsl::load, which every type has.)
        AtomicUsize::load(&self.commits, Ordering::Relaxed)
    }

    /// Opens the connections (establishing one commits a few setup statements) before the
    /// counters are read.
    pub async fn prime(&self) -> anyhow::Result<()> {
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

    /// The tenant of the bench's API key, from one of its tasks. Direct: no response of
    /// svc-tasks names a tenant to its own API key (`TaskDto` has no tenant; the admin API finds
    /// a tenant by name, which this tool is not given), and the tenant only filters the other
    /// direct reads here.
    pub async fn tenant_of(&self, task_id: Uuid) -> anyhow::Result<Uuid> {
        // (`first` would be diesel's RunQueryDsl::first, which every type has.)
        self.tenant_rows(task_id)
            .await?
            .into_iter()
            .next()
            .map(|r| r.tenant_id)
            .with_context(|| format!("task {task_id} is not in svc-tasks' database"))
    }

    /// Is a task of the tenant unfinished in svc-tasks' projection? (an index lookup). Direct
    /// while measuring: `GET /v1/tasks?status=` would do it in three requests per poll, run
    /// by svc-tasks itself, whose CPU and commits are being measured.
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

    /// When svc-tasks took each task of the tenant (`tasks.created_at`) and recorded the
    /// TaskCompleted it consumed back (`task_events.recorded_at`), µs. Direct: the API has both,
    /// but `recorded_at` only per task (`GET /v1/tasks/{id}/events`), thousands of requests
    /// whose transactions would count as svc-tasks' in `make bench-peers`.
    pub async fn task_times(&self, tenant: Uuid) -> anyhow::Result<Vec<TaskTimes>> {
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

    /// When svc-executor queued (`executions.created_at`), first leased and last ended each
    /// completed task of the tenant, and on which instance, µs. Direct: svc-executor serves no
    /// API, and svc-tasks shows only the TaskStarted's time, in ms.
    pub async fn exec_times(&self, tenant: Uuid) -> anyhow::Result<Vec<ExecutionTimes>> {
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
    /// Direct: svc-executor serves no API; svc-tasks would have to page through every task of
    /// the tenant on each poll, while it is being measured.
    pub async fn counts(&self, tenant: Uuid) -> anyhow::Result<[Counts; 2]> {
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
    pub async fn wait_finished(
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
    pub async fn wait_none_unfinished(
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

impl Dbs {
    /// One statement returning a bool (`found`), with the tenant as $1 when given, in its own
    /// counted transaction.
    async fn ask(&self, pool: &DbPool, sql: &str, tenant: Option<Uuid>) -> anyhow::Result<bool> {
        let mut conn = pool.get().await?;
        self.begin(&mut conn).await?;
        let row = match tenant {
            Some(t) => {
                sql_query(sql)
                    .bind::<SqlUuid, _>(t)
                    .get_result::<Exists>(&mut conn)
                    .await
            }
            None => sql_query(sql).get_result::<Exists>(&mut conn).await,
        };
        Ok(self.end(&mut conn, row).await?.found)
    }

    /// Polls until the services have nothing left of the run: svc-notify's projection has as
    /// many tasks of the tenant as svc-tasks and none unfinished, and no service database holds
    /// an unpublished outbox row (svc-scheduler's consumer lag is not asked: it writes nothing
    /// for a task no schedule made). Returns when that was observed.
    pub async fn wait_settled(
        &self,
        tenant: Uuid,
        deadline: Instant,
        poll: Duration,
    ) -> anyhow::Result<Instant> {
        let notify = self
            .notify
            .as_ref()
            .context("wait_settled needs svc-notify's database (with_followers)")?;
        let mut conn = self.tasks.get().await?;
        self.begin(&mut conn).await?;
        let total = sql_query("SELECT count(*) AS n FROM tasks WHERE tenant_id = $1")
            .bind::<SqlUuid, _>(tenant)
            .get_result::<Count>(&mut conn)
            .await;
        let total = self.end(&mut conn, total).await?.n;
        drop(conn);
        let unpublished = "SELECT EXISTS (SELECT 1 FROM outbox_unpublished) AS found";
        let mut pools: Vec<&DbPool> = vec![&self.tasks, &self.exec, notify];
        pools.extend(self.scheduler.as_ref());
        loop {
            // The index of unfinished tasks first; the count only once none is left.
            let mut settled = !self
                .ask(
                    notify,
                    "SELECT EXISTS (SELECT 1 FROM tasks WHERE tenant_id = $1 \
                     AND status IN ('pending', 'running', 'retrying')) AS found",
                    Some(tenant),
                )
                .await?;
            if settled {
                let mut conn = notify.get().await?;
                self.begin(&mut conn).await?;
                let seen = sql_query("SELECT count(*) AS n FROM tasks WHERE tenant_id = $1")
                    .bind::<SqlUuid, _>(tenant)
                    .get_result::<Count>(&mut conn)
                    .await;
                settled = self.end(&mut conn, seen).await?.n >= total;
            }
            for pool in &pools {
                if !settled {
                    break;
                }
                settled = !self.ask(pool, unpublished, None).await?;
            }
            let now = Instant::now();
            if settled {
                return Ok(now);
            }
            if now > deadline {
                bail!(
                    "timed out waiting for svc-notify to show all {total} tasks of the tenant finished and every outbox to drain"
                );
            }
            tokio::time::sleep(poll).await;
        }
    }
}

/// Commits on `dbs` so far (pg_stat_database.xact_commit), through BENCH_ADMIN_DB_URL.
/// Direct: PostgreSQL's own statistics, which no service serves.
pub async fn read_commits(admin_url: &str, dbs: &[String]) -> anyhow::Result<i64> {
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
