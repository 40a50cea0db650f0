//! Rebuilding a service's projections from its log, as a job every service runs the same way.
//!
//! A service says what its projection is by implementing [`Projection`]: what to bound and count
//! when a job starts, how to refold one page after a cursor, what to do after the last page, and
//! how to wipe it (tests). The platform runs the job ([`Rebuilder`]) and serves it over HTTP
//! ([`routes`]): `POST /v1/admin/projections/rebuild` answers 202 at once with the job
//! ([`RebuildJob`], `Location: /v1/admin/projections/rebuild/{job_id}`), and
//! `GET /v1/admin/projections/rebuild/{job_id}` tells its state and progress; both need the
//! service's admin token (`TASKFLOW_ADMIN_TOKEN`).
//!
//! How a job runs:
//! - One page per transaction, which the job opens and in which the page's progress is
//!   recorded: live traffic interleaves, and progress is durable page by page. The projection
//!   locks what it refolds (its per-aggregate rows) so a live update of the same aggregate and
//!   its refold serialize.
//! - One job at a time per database, whichever instance started it: a second start while one
//!   runs returns the running job. A job whose runner is gone (process killed, session lost)
//!   shows as `failed` (interrupted) the next time anyone asks, and at start-up
//!   ([`Rebuilder::fail_interrupted`]); it is not resumed: start a new one. See `store` for the
//!   two advisory locks that make this hold.
//! - Jobs live in the platform's table `projection_rebuilds` (platform migration 6).

use std::future::Future;

use diesel_async::AsyncPgConnection;

mod error;
mod http;
mod job;
pub mod openapi;
mod runner;
mod store;

pub use error::RebuildError;
pub use http::{ADMIN_TOKEN, AdminToken, COLLECTION_PATH, MIN_ADMIN_TOKEN, job_location, routes};
pub use job::{JobState, RebuildJob};
pub use runner::{INTERRUPTED, Rebuilder, Started};
pub use store::{CONTROL_LOCK, LOCK_CLASS, RUNNER_LOCK};

/// A connection of the service's pool, as the job hands it to a [`Projection`].
pub type Conn = AsyncPgConnection;

/// What a job fixed when it started: the bound every page refolds up to, and how many units it
/// expects to refold (the job's `total`).
#[derive(Debug, Clone)]
pub struct Plan<B> {
    pub bound: B,
    pub total: i64,
}

/// One refolded page: how many units it held (added to the job's `done`) and the cursor the next
/// page starts after.
#[derive(Debug, Clone)]
pub struct Page<C> {
    pub count: i64,
    pub last: C,
}

/// A service's projection, rebuildable from its log.
///
/// Implement it on a small value (it is shared by the job's task and the handlers) and hand it
/// to [`Rebuilder::new`]. Every method gets a connection of the service's pool; `refold_page` is
/// called inside the transaction the job opened for that page (do not commit or open another),
/// the others outside any transaction (open your own if you need one).
pub trait Projection: Send + Sync + 'static {
    /// What the job's `total` and `done` count, as its JSON's `unit` says: `"tasks"`,
    /// `"executions"`, `"schedules"`...
    const UNIT: &'static str;

    /// What every page refolds up to, fixed when the job starts (e.g. the newest aggregate id
    /// then: later ones are projected live and need no refold).
    type Bound: Clone + Send + Sync + 'static;

    /// Where a page ended; the next page starts after it (e.g. the last aggregate id refolded).
    type Cursor: Clone + Send + Sync + 'static;

    /// The projection's own error (its store's). Its message becomes the failed job's `error`.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Fixes the bound and counts the units to refold. Called once, before the first page.
    fn plan(
        &self,
        conn: &mut Conn,
    ) -> impl Future<Output = Result<Plan<Self::Bound>, Self::Error>> + Send;

    /// Refolds the page after `after` (`None`: the first page), up to `bound`: locks the
    /// aggregates it refolds, reads their log, writes their projection. `None` when nothing is
    /// left. Runs inside the page's transaction.
    fn refold_page(
        &self,
        conn: &mut Conn,
        bound: &Self::Bound,
        after: Option<&Self::Cursor>,
    ) -> impl Future<Output = Result<Option<Page<Self::Cursor>>, Self::Error>> + Send;

    /// After the last page: what is derived from the whole projection (e.g. counters recounted
    /// from the refolded rows). Does nothing unless overridden.
    fn finish(&self, conn: &mut Conn) -> impl Future<Output = Result<(), Self::Error>> + Send {
        let _ = conn;
        async { Ok(()) }
    }

    /// Empties the projection, so a rebuild has to restore all of it. For tests (and an
    /// operator's tools); never called by the job.
    fn wipe(&self, conn: &mut Conn) -> impl Future<Output = Result<(), Self::Error>> + Send;
}
