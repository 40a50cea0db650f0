//! Rebuilding the `tasks` projection (and the active-task counters) from the task log, as a job
//! of the platform's rebuild room (`taskflow_platform::rebuild`, which starts, runs, records and
//! serves the job): the unit is a task stream, [`PAGE`] of them per transaction, in id order,
//! up to the newest stream when the job started (later ones are projected live).
//!
//! A page locks each task's row before it reads the task's events, so the fold sees every event
//! committed before it, and a live update of the same task waits for the page (or the page for
//! it): both fold the same log, whichever commits last writes the same row. After the last page
//! the active-task counters are recounted from the refolded rows.

use taskflow_platform::rebuild::{Conn, Page, Plan, Projection};
use uuid::Uuid;

use crate::domain::fold;
use crate::store::{self, StoreError};

/// Task streams per page (per transaction).
pub const PAGE: i64 = 500;

/// svc-tasks' projection, as the rebuild room sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct TaskProjection;

impl Projection for TaskProjection {
    const UNIT: &'static str = "tasks";
    /// The newest task stream when the job started; `None`: there was none.
    type Bound = Option<Uuid>;
    /// The last task stream refolded.
    type Cursor = Uuid;
    type Error = StoreError;

    async fn plan(&self, conn: &mut Conn) -> Result<Plan<Option<Uuid>>, StoreError> {
        let bound = store::newest_stream_id(conn).await?;
        let total = match bound {
            Some(upto) => store::count_streams(conn, upto).await?,
            None => 0,
        };
        Ok(Plan { bound, total })
    }

    async fn refold_page(
        &self,
        conn: &mut Conn,
        bound: &Option<Uuid>,
        after: Option<&Uuid>,
    ) -> Result<Option<Page<Uuid>>, StoreError> {
        let Some(upto) = *bound else {
            return Ok(None);
        };
        let ids = store::stream_ids(conn, after.copied(), upto, PAGE).await?;
        let Some(last) = ids.last().copied() else {
            return Ok(None);
        };
        for id in &ids {
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
        Ok(Some(Page {
            count: ids.len() as i64,
            last,
        }))
    }

    async fn finish(&self, conn: &mut Conn) -> Result<(), StoreError> {
        store::recount_active_tasks(conn).await
    }

    async fn wipe(&self, conn: &mut Conn) -> Result<(), StoreError> {
        store::wipe_tasks(conn).await
    }
}
