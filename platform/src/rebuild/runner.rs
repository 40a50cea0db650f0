//! Starting a job, reading it, and running it in the background.

use std::sync::Arc;

use chrono::DurationRound;

use diesel_async::AsyncConnection;
use diesel_async::pooled_connection::deadpool::Object;
use uuid::Uuid;

use super::error::RebuildError;
use super::job::{JobState, RebuildJob};
use super::store::{self, JobRow};
use super::{Conn, Projection};
use crate::db::DbPool;

/// The error of a job whose runner went away before it ended.
pub const INTERRUPTED: &str =
    "interrupted: the instance running this rebuild stopped before it finished; start a new one";

/// What [`Rebuilder::start`] did.
#[derive(Debug, Clone)]
pub enum Started {
    /// A new job, now running.
    New(RebuildJob),
    /// The job that was already running (here or on another instance).
    AlreadyRunning(RebuildJob),
}

impl Started {
    pub fn job(&self) -> &RebuildJob {
        match self {
            Started::New(job) | Started::AlreadyRunning(job) => job,
        }
    }
}

/// Starts, reads and runs rebuild jobs of one projection. Cheap to clone.
pub struct Rebuilder<P> {
    inner: Arc<Inner<P>>,
}

struct Inner<P> {
    db: DbPool,
    projection: P,
    owner: String,
}

impl<P> Clone for Rebuilder<P> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<P: Projection> Rebuilder<P> {
    /// Jobs of `projection` on the service's database; `owner` names this instance in the job's
    /// row (e.g. [`crate::runtime::Identity::producer_name`]).
    pub fn new(db: DbPool, projection: P, owner: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                projection,
                owner: owner.into(),
            }),
        }
    }

    pub fn projection(&self) -> &P {
        &self.inner.projection
    }

    /// Starts a job, or returns the one running. A new job runs on a tokio task of its own
    /// (call from within a tokio runtime), on a connection taken out of the pool for its life.
    pub async fn start(&self) -> Result<Started, RebuildError> {
        let mut pooled = self.inner.db.get().await?;
        let owner = self.inner.owner.clone();
        let outcome = pooled
            .transaction::<_, RebuildError, _>(async move |conn| {
                store::lock_control(conn).await?;
                if !store::try_hold_runner_lock(conn).await? {
                    // Under the control lock, a held runner lock means a live job whose row
                    // says `running`.
                    return store::running(conn)
                        .await?
                        .map(|row| Started::AlreadyRunning(row.into()))
                        .ok_or(RebuildError::Ending);
                }
                // We hold the runner lock: any `running` row is a leftover of a dead runner.
                store::fail_running(conn, INTERRUPTED).await?;
                // To the microsecond PostgreSQL keeps, so the job answered now reads back equal.
                let now = chrono::Utc::now();
                let now = now
                    .duration_trunc(chrono::TimeDelta::microseconds(1))
                    .unwrap_or(now);
                let row = JobRow {
                    id: Uuid::now_v7(),
                    state: JobState::Running.as_str().into(),
                    unit: P::UNIT.into(),
                    total: None,
                    done: 0,
                    started_at: now,
                    updated_at: now,
                    finished_at: None,
                    error: None,
                    owner,
                };
                store::insert(conn, &row).await?;
                Ok(Started::New(row.into()))
            })
            .await;
        match outcome {
            Ok(Started::New(job)) => {
                // The session holding the runner lock leaves the pool and runs the job; when it
                // closes, the lock goes with it.
                let conn = Object::take(pooled);
                tokio::spawn(self.clone().run(conn, job.job_id));
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
    pub async fn status(&self, id: Uuid) -> Result<RebuildJob, RebuildError> {
        let mut conn = self.inner.db.get().await?;
        let job = store::get(&mut conn, id)
            .await?
            .ok_or(RebuildError::NotFound(id))?;
        if job.state != JobState::Running.as_str() {
            return Ok(job.into());
        }
        fail_orphans(&mut conn).await?;
        Ok(store::get(&mut conn, id)
            .await?
            .ok_or(RebuildError::NotFound(id))?
            .into())
    }

    /// Marks jobs left `running` by a runner that is gone; how many. Call at start-up, so a job
    /// the previous process was running shows as failed at once.
    pub async fn fail_interrupted(&self) -> Result<usize, RebuildError> {
        let mut conn = self.inner.db.get().await?;
        fail_orphans(&mut conn).await
    }

    /// The job's body: refold, then record how it ended. Owns the session holding the runner
    /// lock.
    async fn run(self, mut conn: Conn, id: Uuid) {
        let started = std::time::Instant::now();
        let result = self.refold(&mut conn, id).await;
        let (state, error) = match &result {
            Ok(done) => {
                tracing::info!(job = %id, unit = P::UNIT, done, elapsed_ms = started.elapsed().as_millis() as u64, "projection rebuilt");
                (JobState::Succeeded, None)
            }
            Err(e) => {
                tracing::error!(job = %id, unit = P::UNIT, error = %e, "projection rebuild failed");
                (
                    JobState::Failed,
                    Some(e.to_string().replace('\0', "\u{fffd}")),
                )
            }
        };
        let error_text = error.clone();
        // Ending and letting go of the runner lock happen under the control lock, so nobody
        // sees the lock free while the row still says `running`, or the lock held with the row
        // ended.
        let ended = conn
            .transaction::<_, RebuildError, _>(async move |conn| {
                store::lock_control(conn).await?;
                store::finish(conn, id, state, error_text.as_deref()).await?;
                store::release_runner_lock(conn).await?;
                Ok(())
            })
            .await;
        drop(conn);
        if let Err(e) = ended {
            // The session is gone (and with it the lock); record the end from another one.
            tracing::warn!(job = %id, error = %e, "recording the rebuild's end on a new connection");
            let recorded = async {
                let mut other = self.inner.db.get().await?;
                store::finish(&mut other, id, state, error.as_deref()).await?;
                Ok::<_, RebuildError>(())
            }
            .await;
            if let Err(e) = recorded {
                tracing::error!(job = %id, error = %e, "rebuild end not recorded; it will show as interrupted");
            }
        }
    }

    /// Refolds page after page up to the plan's bound, each page in a transaction with its
    /// progress; the number of units refolded.
    async fn refold(&self, conn: &mut Conn, id: Uuid) -> Result<i64, RebuildError> {
        let projection = &self.inner.projection;
        let plan = projection
            .plan(conn)
            .await
            .map_err(RebuildError::projection)?;
        let mut total = plan.total;
        if !store::record_progress(conn, id, 0, Some(total)).await? {
            return Err(RebuildError::Interrupted);
        }
        let bound = &plan.bound;
        let mut after: Option<P::Cursor> = None;
        let mut done = 0i64;
        loop {
            let previous = after.as_ref();
            let page = conn
                .transaction::<_, RebuildError, _>(async move |conn| {
                    let Some(page) = projection
                        .refold_page(conn, bound, previous)
                        .await
                        .map_err(RebuildError::projection)?
                    else {
                        return Ok(None);
                    };
                    let done = done + page.count;
                    // Units created below the bound after the count are refolded too.
                    let total = total.max(done);
                    if !store::record_progress(conn, id, done, Some(total)).await? {
                        return Err(RebuildError::Interrupted);
                    }
                    Ok(Some((page.last, done, total)))
                })
                .await?;
            let Some((last, now_done, now_total)) = page else {
                break;
            };
            done = now_done;
            total = now_total;
            after = Some(last);
        }
        projection
            .finish(conn)
            .await
            .map_err(RebuildError::projection)?;
        Ok(done)
    }
}

async fn fail_orphans(conn: &mut Conn) -> Result<usize, RebuildError> {
    conn.transaction::<_, RebuildError, _>(async move |conn| {
        store::lock_control(conn).await?;
        if !store::runner_lock_free(conn).await? {
            return Ok(0);
        }
        let failed = store::fail_running(conn, INTERRUPTED).await?;
        if failed > 0 {
            tracing::warn!(failed, "projection rebuild found interrupted");
        }
        Ok(failed)
    })
    .await
}
