//! The shared projection-rebuild job on its own, with a toy projection over a toy log: progress
//! committed page by page, one job at a time across instances, a job whose runner is gone shown
//! as failed (interrupted), a projection's failure as the job's.

use std::sync::Arc;
use std::time::Duration;

use diesel::sql_types::{BigInt, Integer};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use taskflow_platform::db::{self, DbPool};
use taskflow_platform::rebuild::{
    Conn, INTERRUPTED, JobState, LOCK_CLASS, Page, Plan, Projection, RUNNER_LOCK, RebuildJob,
    Rebuilder, Started,
};
use taskflow_platform::testing::wait_until;
use tokio::sync::Semaphore;
use uuid::Uuid;

/// Sums of `toy_log.v` per aggregate, two aggregates a page; each page waits for a permit of
/// `gate`, so a test decides how far a job gets.
struct Sums {
    gate: Arc<Semaphore>,
    fail: bool,
}

#[derive(Debug, thiserror::Error)]
enum ToyError {
    #[error("toy store: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("the toy log is unreadable")]
    Unreadable,
}

#[derive(diesel::QueryableByName)]
struct Number {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(diesel::QueryableByName)]
struct Agg {
    #[diesel(sql_type = Integer)]
    agg: i32,
}

impl Projection for Sums {
    const UNIT: &'static str = "sums";
    type Bound = ();
    type Cursor = i32;
    type Error = ToyError;

    async fn plan(&self, conn: &mut Conn) -> Result<Plan<()>, ToyError> {
        let count: Number = diesel::sql_query("SELECT count(DISTINCT agg) AS n FROM toy_log")
            .get_result(conn)
            .await?;
        Ok(Plan {
            bound: (),
            total: count.n,
        })
    }

    async fn refold_page(
        &self,
        conn: &mut Conn,
        _: &(),
        after: Option<&i32>,
    ) -> Result<Option<Page<i32>>, ToyError> {
        if let Ok(permit) = self.gate.acquire().await {
            permit.forget();
        }
        if self.fail {
            return Err(ToyError::Unreadable);
        }
        let aggs: Vec<Agg> = diesel::sql_query(
            "SELECT DISTINCT agg FROM toy_log WHERE agg > $1 ORDER BY agg LIMIT 2",
        )
        .bind::<Integer, _>(after.copied().unwrap_or(i32::MIN))
        .load(conn)
        .await?;
        let Some(last) = aggs.last().map(|a| a.agg) else {
            return Ok(None);
        };
        diesel::sql_query(
            "INSERT INTO toy_view (agg, total) \
             SELECT agg, sum(v) FROM toy_log WHERE agg > $1 AND agg <= $2 GROUP BY agg \
             ON CONFLICT (agg) DO UPDATE SET total = excluded.total",
        )
        .bind::<Integer, _>(after.copied().unwrap_or(i32::MIN))
        .bind::<Integer, _>(last)
        .execute(conn)
        .await?;
        Ok(Some(Page {
            count: aggs.len() as i64,
            last,
        }))
    }

    async fn wipe(&self, conn: &mut Conn) -> Result<(), ToyError> {
        conn.batch_execute("DELETE FROM toy_view").await?;
        Ok(())
    }
}

/// A database with the platform's tables and a toy log of 5 aggregates (sums 1+2, 3, ..., 6),
/// and its URL.
async fn toy_db() -> (DbPool, String) {
    let name = format!("it_rebuild_{}", &Uuid::new_v4().simple().to_string()[..12]);
    let url = taskflow_platform::testing::new_database(&name).await;
    let pool = db::pool(&url, 4).expect("pool");
    db::migrate(&pool, db::PLATFORM_MIGRATIONS)
        .await
        .expect("migrated");
    let mut conn = pool.get().await.expect("connection");
    conn.batch_execute(
        "CREATE TABLE toy_log (agg int NOT NULL, v int NOT NULL); \
         CREATE TABLE toy_view (agg int PRIMARY KEY, total bigint NOT NULL); \
         INSERT INTO toy_log VALUES (1, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6);",
    )
    .await
    .expect("toy tables");
    drop(conn);
    (pool, url)
}

fn instance(pool: &DbPool, gate: &Arc<Semaphore>, owner: &str) -> Rebuilder<Sums> {
    Rebuilder::new(
        pool.clone(),
        Sums {
            gate: gate.clone(),
            fail: false,
        },
        owner,
    )
}

async fn wait_for(
    rebuilder: &Rebuilder<Sums>,
    id: Uuid,
    what: &str,
    done: impl Fn(&RebuildJob) -> bool,
) -> RebuildJob {
    wait_until(Duration::from_secs(30), what, || async {
        let job = rebuilder.status(id).await.expect("status");
        done(&job).then_some(job)
    })
    .await
}

async fn view(pool: &DbPool) -> Vec<(i32, i64)> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = Integer)]
        agg: i32,
        #[diesel(sql_type = BigInt)]
        total: i64,
    }
    let mut conn = pool.get().await.expect("connection");
    let rows: Vec<Row> = diesel::sql_query("SELECT agg, total FROM toy_view ORDER BY agg")
        .load(&mut conn)
        .await
        .expect("view");
    rows.into_iter().map(|r| (r.agg, r.total)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_is_committed_page_by_page_and_one_job_runs_at_a_time() {
    let (pool, url) = toy_db().await;
    let gate = Arc::new(Semaphore::new(0));
    let one = instance(&pool, &gate, "one");
    // Another instance: its own pool on the same database.
    let other_pool = db::pool(&url, 2).expect("pool");
    let other = instance(&other_pool, &gate, "other");
    let mut conn = pool.get().await.expect("connection");
    one.projection().wipe(&mut conn).await.expect("wiped");

    let Started::New(job) = one.start().await.expect("started") else {
        panic!("nothing runs yet");
    };
    assert_eq!(job.state, JobState::Running);
    assert_eq!(job.unit, "sums");
    assert_eq!(job.done, 0);
    let joined = other.start().await.expect("joined");
    assert!(matches!(joined, Started::AlreadyRunning(_)), "{joined:?}");
    assert_eq!(joined.job().job_id, job.job_id);
    assert_eq!(
        joined.job().started_at,
        job.started_at,
        "as answered, as stored"
    );

    gate.add_permits(1);
    let first_page = wait_for(&other, job.job_id, "the first page", |j| j.done == 2).await;
    assert_eq!(first_page.state, JobState::Running);
    assert_eq!(first_page.total, Some(5));
    assert_eq!(view(&pool).await, [(1, 3), (2, 3)]);

    gate.add_permits(3);
    let ended = wait_for(&other, job.job_id, "the job to end", |j| {
        j.state != JobState::Running
    })
    .await;
    assert_eq!(ended.state, JobState::Succeeded, "{ended:?}");
    assert_eq!((ended.done, ended.total), (5, Some(5)));
    assert!(ended.finished_at.is_some());
    assert_eq!(ended.error, None);
    assert_eq!(view(&pool).await, [(1, 3), (2, 3), (3, 4), (4, 5), (5, 6)]);

    // Ended, the job let go of the runner lock: the other instance starts the next one.
    gate.add_permits(3);
    let next = other.start().await.expect("started");
    assert!(matches!(next, Started::New(_)), "{next:?}");
    assert_ne!(next.job().job_id, job.job_id);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_whose_runner_is_gone_shows_as_failed() {
    let (pool, url) = toy_db().await;
    let gate = Arc::new(Semaphore::new(100));
    let rebuilder = instance(&pool, &gate, "here");

    // A runner elsewhere: its session holds the runner lock, its job's row says running.
    let mut elsewhere = AsyncPgConnection::establish(&url)
        .await
        .expect("connection");
    diesel::sql_query(format!(
        "SELECT pg_advisory_lock({LOCK_CLASS}, {RUNNER_LOCK})"
    ))
    .execute(&mut elsewhere)
    .await
    .expect("runner lock");
    let running = Uuid::now_v7();
    diesel::sql_query(
        "INSERT INTO projection_rebuilds (id, state, unit, done, started_at, updated_at, owner) \
         VALUES ($1, 'running', 'sums', 0, now(), now(), 'elsewhere')",
    )
    .bind::<diesel::sql_types::Uuid, _>(running)
    .execute(&mut elsewhere)
    .await
    .expect("running job");

    let joined = rebuilder.start().await.expect("joined");
    assert!(matches!(joined, Started::AlreadyRunning(_)), "{joined:?}");
    assert_eq!(joined.job().job_id, running);
    assert_eq!(rebuilder.fail_interrupted().await.expect("checked"), 0);
    assert_eq!(
        rebuilder.status(running).await.expect("status").state,
        JobState::Running
    );

    drop(elsewhere);
    let failed = wait_for(&rebuilder, running, "the job to show failed", |j| {
        j.state != JobState::Running
    })
    .await;
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.error.as_deref(), Some(INTERRUPTED));
    assert!(failed.finished_at.is_some());

    // A row left running by a process that is gone is failed at start-up.
    let mut conn = pool.get().await.expect("connection");
    let orphan = Uuid::now_v7();
    diesel::sql_query(
        "INSERT INTO projection_rebuilds (id, state, unit, done, started_at, updated_at, owner) \
         VALUES ($1, 'running', 'sums', 0, now(), now(), 'gone')",
    )
    .bind::<diesel::sql_types::Uuid, _>(orphan)
    .execute(&mut conn)
    .await
    .expect("orphan");
    assert_eq!(rebuilder.fail_interrupted().await.expect("failed"), 1);
    assert_eq!(
        rebuilder.status(orphan).await.expect("status").state,
        JobState::Failed
    );

    let new = rebuilder.start().await.expect("started");
    assert!(matches!(new, Started::New(_)), "{new:?}");
    let id = new.job().job_id;
    let ended = wait_for(&rebuilder, id, "the job to end", |j| {
        j.state != JobState::Running
    })
    .await;
    assert_eq!(ended.state, JobState::Succeeded, "{ended:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_projection_fails_the_job_with_its_error() {
    let (pool, _) = toy_db().await;
    let gate = Arc::new(Semaphore::new(100));
    let failing = Rebuilder::new(
        pool.clone(),
        Sums {
            gate: gate.clone(),
            fail: true,
        },
        "failing",
    );
    let id = failing.start().await.expect("started").job().job_id;
    let failed = wait_for(&failing, id, "the job to fail", |j| {
        j.state != JobState::Running
    })
    .await;
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.error.as_deref(), Some("the toy log is unreadable"));
    assert_eq!(failed.total, Some(5));
    assert_eq!(failed.done, 0);
    assert!(view(&pool).await.is_empty());
    // The runner lock went with the job.
    let next = instance(&pool, &gate, "next")
        .start()
        .await
        .expect("started");
    assert!(matches!(next, Started::New(_)), "{next:?}");
    assert!(matches!(
        failing.status(Uuid::now_v7()).await,
        Err(taskflow_platform::rebuild::RebuildError::NotFound(_))
    ));
}
