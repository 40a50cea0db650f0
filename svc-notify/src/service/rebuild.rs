//! svc-notify's projections rebuilt from its log: the tasks' views (`tasks`) refolded from the
//! notification history page by page, then the per-status counters (`status_counts`) recounted
//! from the views. The job, its routes and its locks are the platform's (`taskflow_platform::
//! rebuild`); this is what it refolds.
//!
//! A page locks the views of its tasks (`FOR UPDATE`, in id order like the ingest's batches)
//! before it reads their history, so a live update of one of those tasks and its refold
//! serialize: the ingest either commits first (the refold then reads its notification) or
//! waits and applies its event to the refolded view. A task with no view when the page locked
//! (wiped, or created meanwhile) gets one only if the ingest has not written one by then.
//!
//! What the log no longer has cannot be restored: retention prunes the history, so a view is
//! replaced only from a history that still starts with the task's first notification
//! (`domain::refold::write_for`). The views of tasks whose history was pruned are kept as they
//! are (absent ones get what is left); those with no history left are not touched at all.

use std::collections::HashMap;

use diesel_async::AsyncConnection;
use taskflow_platform::rebuild::{Page, Plan, Projection};
use taskflow_schemas::EventKind;
use uuid::Uuid;

use crate::domain::TaskStatus;
use crate::domain::refold::{Told, Write, refold, write_for};
use crate::ingest::row_of;
use crate::store::{self, Conn, HistoryKey, NotificationRow, StoreError};

/// The tasks' views and counters, as the platform's rebuild job sees them.
#[derive(Debug, Clone, Copy)]
pub struct TaskViews {
    /// Tasks per page (per transaction).
    page: i64,
}

impl Default for TaskViews {
    fn default() -> Self {
        Self { page: 500 }
    }
}

impl TaskViews {
    /// `page` tasks per page (at least 1); tests walk several pages with few tasks.
    pub fn paged(page: i64) -> Self {
        Self { page: page.max(1) }
    }
}

impl Projection for TaskViews {
    const UNIT: &'static str = "tasks";
    /// Every task with history is refolded, also one told first after the job started (it is
    /// locked like any other, so refolding it is harmless).
    type Bound = ();
    type Cursor = HistoryKey;
    type Error = StoreError;

    async fn plan(&self, conn: &mut Conn) -> Result<Plan<()>, StoreError> {
        Ok(Plan {
            bound: (),
            total: store::count_histories(conn).await?,
        })
    }

    async fn refold_page(
        &self,
        conn: &mut Conn,
        _bound: &(),
        after: Option<&HistoryKey>,
    ) -> Result<Option<Page<HistoryKey>>, StoreError> {
        let after = after.copied();
        let keys = store::history_keys(conn, after, self.page).await?;
        let Some(last) = keys.last().copied() else {
            return Ok(None);
        };
        let mut ids: Vec<Uuid> = keys.iter().map(|(_, task)| *task).collect();
        ids.sort_unstable();
        ids.dedup();
        // Locked before the history is read, so the read sees every notification committed
        // before the lock, and no later one commits until this page does.
        let views: HashMap<Uuid, Uuid> = store::lock_tasks(conn, &ids)
            .await?
            .into_iter()
            .map(|row| (row.task_id, row.tenant_id))
            .collect();
        let rows = store::histories(conn, after, last).await?;
        let mut overwrite = Vec::new();
        let mut if_absent = Vec::new();
        for history in rows.chunk_by(|a, b| (a.tenant_id, a.task_id) == (b.tenant_id, b.task_id)) {
            let told = history.iter().map(told_of).collect::<Result<Vec<_>, _>>()?;
            let (Some(refolded), Some(newest)) = (refold(&told), history.last()) else {
                continue;
            };
            let write = write_for(&refolded, views.get(&refolded.state.task_id).copied());
            let row = row_of(refolded.state, newest.seq);
            match write {
                Write::Overwrite => overwrite.push(row),
                Write::IfAbsent => if_absent.push(row),
                Write::Keep => {}
            }
        }
        store::overwrite_tasks(conn, &overwrite).await?;
        store::insert_missing_tasks(conn, &if_absent).await?;
        Ok(Some(Page {
            count: keys.len() as i64,
            last,
        }))
    }

    async fn finish(&self, conn: &mut Conn) -> Result<(), StoreError> {
        conn.transaction::<_, StoreError, _>(async |conn| store::recount_statuses(conn).await)
            .await
    }

    async fn wipe(&self, conn: &mut Conn) -> Result<(), StoreError> {
        conn.transaction::<_, StoreError, _>(async |conn| store::wipe_projections(conn).await)
            .await
    }
}

fn corrupt(row: &NotificationRow, reason: String) -> StoreError {
    StoreError::Corrupt {
        what: "notification",
        reason: format!("tenant {} seq {}: {reason}", row.tenant_id, row.seq),
    }
}

fn status(row: &NotificationRow, text: &str) -> Result<TaskStatus, StoreError> {
    TaskStatus::parse(text).ok_or_else(|| corrupt(row, format!("unknown status {text:?}")))
}

/// A stored notification as the refold reads it.
fn told_of(row: &NotificationRow) -> Result<Told, StoreError> {
    Ok(Told {
        tenant_id: row.tenant_id,
        task_id: row.task_id,
        kind: EventKind::from_name(&row.event_type)
            .ok_or_else(|| corrupt(row, format!("unknown event type {:?}", row.event_type)))?,
        status: status(row, &row.status)?,
        previous_status: row
            .previous_status
            .as_deref()
            .map(|s| status(row, s))
            .transpose()?,
        task_type: row.task_type.clone(),
        priority: row.priority.clone(),
        labels: serde_json::from_value(row.labels.clone())
            .map_err(|e| corrupt(row, format!("labels: {e}")))?,
        percent: row.percent,
        message: row.message.clone(),
        attempt: row.attempt,
        error: row.error.clone(),
        occurred_at: row.occurred_at,
    })
}
