//! Rebuilding the `tasks` projection (and the active-task counters) from the event log, as a job.
//!
//! `start` answers at once: it records a `running` job and refolds in the background, one page of
//! task streams per transaction, so live traffic interleaves (a task changed meanwhile is
//! written by whichever transaction commits last, and both fold the same log). Progress is
//! committed with each page. One job runs at a time across instances: a second `start` while
//! one runs returns the running job. A job whose runner is gone (process killed or restarted,
//! its database session lost) is marked `failed` as interrupted the next time anyone asks, and
//! at start-up; it is not resumed: start a new one. See `store::rebuild_jobs` for the locks.

use diesel_async::AsyncConnection;
use diesel_async::pooled_connection::deadpool::Object;
use uuid::Uuid;

use super::{ServiceError, Services};
use crate::domain::fold;
use crate::store::rebuild_jobs::{self as jobs, RebuildJobRow};
use crate::store::{self, Conn, StoreError};

const PAGE: i64 = 500;

pub const INTERRUPTED: &str = "interrupted: the svc-tasks instance running this rebuild stopped before it finished; start a new one";

/// What `start` did.
#[derive(Debug, Clone)]
pub enum Started {
    /// A new job, now running.
    New(RebuildJobRow),
    /// The job that was already running.
    AlreadyRunning(RebuildJobRow),
}

impl Started {
    pub fn job(&self) -> &RebuildJobRow {
        match self {
            Started::New(job) | Started::AlreadyRunning(job) => job,
        }
    }
}

/// Starts a rebuild, or returns the one running.
pub async fn start(services: &Services) -> Result<Started, ServiceError> {
    let mut pooled = services.db.get().await?;
    let owner = services.producer_name.clone();
    let started_at = services.clock.now();
    let outcome = pooled
        .transaction::<_, ServiceError, _>(async move |conn| {
            jobs::lock_rebuild_control(conn).await?;
            if !jobs::try_hold_runner_lock(conn).await? {
                // Under the control lock, a held runner lock means a live job whose row says
                // `running`.
                return jobs::running_rebuild(conn)
                    .await?
                    .map(Started::AlreadyRunning)
                    .ok_or_else(|| {
                        ServiceError::Unavailable("a projection rebuild is ending; retry".into())
                    });
            }
            // We hold the runner lock: any `running` row is a leftover of a dead runner.
            jobs::fail_running_rebuilds(conn, INTERRUPTED).await?;
            let now = started_at;
            let job = RebuildJobRow {
                id: Uuid::now_v7(),
                state: jobs::RUNNING.into(),
                total_tasks: None,
                done_tasks: 0,
                upto: jobs::newest_stream_id(conn).await?,
                started_at: now,
                updated_at: now,
                finished_at: None,
                error: None,
                owner,
            };
            jobs::insert_rebuild(conn, &job).await?;
            Ok(Started::New(job))
        })
        .await;
    match outcome {
        Ok(Started::New(job)) => {
            // The session holding the runner lock leaves the pool and runs the job; when it
            // closes, the lock goes with it.
            let conn = Object::take(pooled);
            services
                .runtime
                .spawn(run(services.clone(), conn, job.clone()));
            Ok(Started::New(job))
        }
        Ok(joined) => Ok(joined),
        Err(e) => {
            // The session may hold the runner lock without a job row: never reuse it.
            drop(Object::take(pooled));
            Err(e)
        }
    }
}

/// The job, with a `running` one whose runner is gone marked failed first.
pub async fn status(services: &Services, id: Uuid) -> Result<RebuildJobRow, ServiceError> {
    let mut conn = services.db.get().await?;
    let job = jobs::get_rebuild(&mut conn, id)
        .await?
        .ok_or(ServiceError::RebuildNotFound)?;
    if job.state != jobs::RUNNING {
        return Ok(job);
    }
    fail_orphans(&mut conn).await?;
    jobs::get_rebuild(&mut conn, id)
        .await?
        .ok_or(ServiceError::RebuildNotFound)
}

/// Marks jobs left `running` by a runner that is gone (at start-up: by the previous process).
pub async fn fail_interrupted(services: &Services) -> Result<usize, ServiceError> {
    let mut conn = services.db.get().await?;
    fail_orphans(&mut conn).await
}

async fn fail_orphans(conn: &mut Conn) -> Result<usize, ServiceError> {
    conn.transaction::<_, ServiceError, _>(async move |conn| {
        jobs::lock_rebuild_control(conn).await?;
        if jobs::runner_lock_free(conn).await? {
            let failed = jobs::fail_running_rebuilds(conn, INTERRUPTED).await?;
            if failed > 0 {
                tracing::warn!(failed, "projection rebuild found interrupted");
            }
            Ok(failed)
        } else {
            Ok(0)
        }
    })
    .await
}

/// The job's body: refold, then record how it ended. Owns the session holding the runner lock.
async fn run(services: Services, mut conn: Conn, job: RebuildJobRow) {
    let started = std::time::Instant::now();
    let result = refold(&mut conn, &job).await;
    let (state, error) = match &result {
        Ok(done) => {
            tracing::info!(job = %job.id, done, elapsed_ms = started.elapsed().as_millis() as u64, "projection rebuilt");
            (jobs::SUCCEEDED, None)
        }
        Err(e) => {
            tracing::error!(job = %job.id, error = %e, "projection rebuild failed");
            (jobs::FAILED, Some(e.to_string().replace('\0', "\u{fffd}")))
        }
    };
    let id = job.id;
    let error_text = error.clone();
    // Ending and letting go of the runner lock happen under the control lock, so nobody sees
    // the lock free while the row still says `running`, or the lock held with the row ended.
    let ended = conn
        .transaction::<_, ServiceError, _>(async move |conn| {
            jobs::lock_rebuild_control(conn).await?;
            jobs::finish_rebuild(conn, id, state, error_text.as_deref()).await?;
            jobs::release_runner_lock(conn).await?;
            Ok(())
        })
        .await;
    drop(conn);
    if let Err(e) = ended {
        // The session is gone (and with it the lock); record the end from another one.
        tracing::warn!(job = %id, error = %e, "recording the rebuild's end on a new connection");
        let recorded = async {
            let mut other = services.db.get().await?;
            jobs::finish_rebuild(&mut other, id, state, error.as_deref()).await?;
            Ok::<_, ServiceError>(())
        }
        .await;
        if let Err(e) = recorded {
            tracing::error!(job = %id, error = %e, "rebuild end not recorded; it will show as interrupted");
        }
    }
}

/// Refolds every stream up to the job's `upto`, a page per transaction; the number refolded.
async fn refold(conn: &mut Conn, job: &RebuildJobRow) -> Result<i64, ServiceError> {
    let Some(upto) = job.upto else {
        jobs::record_rebuild_progress(conn, job.id, 0, Some(0)).await?;
        store::recount_active_tasks(conn).await?;
        return Ok(0);
    };
    let mut total = jobs::count_streams(conn, upto).await?;
    if !jobs::record_rebuild_progress(conn, job.id, 0, Some(total)).await? {
        return Err(ServiceError::RebuildInterrupted);
    }
    let mut after = None;
    let mut done = 0i64;
    loop {
        let ids = store::stream_ids(conn, after, upto, PAGE).await?;
        let Some(last) = ids.last().copied() else {
            break;
        };
        done += ids.len() as i64;
        // A task created below `upto` after the count: count it too.
        total = total.max(done);
        let id = job.id;
        let still_running = conn
            .transaction::<_, ServiceError, _>(async move |conn| {
                for id in &ids {
                    // Lock first so the fold sees every event committed before it.
                    store::lock_task(conn, *id).await?;
                    let events = store::stream_events(conn, *id).await?;
                    let task = fold(&events).map_err(|e| StoreError::Corrupt {
                        what: "task stream",
                        reason: format!("task {id}: {e}"),
                    })?;
                    if let Some(task) = task {
                        store::upsert_task(conn, &task).await?;
                    }
                }
                Ok(jobs::record_rebuild_progress(conn, id, done, Some(total)).await?)
            })
            .await?;
        if !still_running {
            return Err(ServiceError::RebuildInterrupted);
        }
        after = Some(last);
    }
    store::recount_active_tasks(conn).await?;
    Ok(done)
}
