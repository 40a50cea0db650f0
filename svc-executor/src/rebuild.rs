//! `executions` rebuilt from the executor's log, as a job of the platform's rebuild mechanism
//! (`taskflow_platform::rebuild`: `POST /v1/admin/projections/rebuild`). A page is up to
//! [`PAGE`] executions in the order they were queued; in its transaction it locks their rows
//! (`store::rebuild`, which says why that serializes it with claims and outcomes), reads their
//! log, folds each (`domain::replay`) and writes it back.
//!
//! What a rebuild keeps of the rows it finds: the lease of a running execution whose row still
//! names the attempt's holder (`replay::lease_until`), so an attempt running now stays leased to
//! its instance and is not claimable again. What it leaves: an execution that ended before the
//! retention (`TASKFLOW_EXECUTOR_RETENTION_HOURS`) is not written back; the maintenance room would
//! delete it anyway. `tenant_turns` is not refolded: it is when each tenant last got a slot, a
//! scheduling hint written with `SKIP LOCKED` (a busy tenant's note may be skipped), not a fact
//! of the log; a page gives the tenants of its executions a turn row if theirs is gone, as ingest
//! does, and keeps the others.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use taskflow_platform::headers::TraceContext;
use taskflow_platform::rebuild::{Conn, Page, Plan, Projection};
use taskflow_schemas::{Event, EventKind};
use uuid::Uuid;

use crate::domain::replay::{self, Logged, Queued};
use crate::log;
use crate::store;
use crate::store::rebuild::{LogRow, Refolded};

/// Executions per page (one transaction, their rows locked for its length).
pub const PAGE: i64 = 200;

/// The executor's projection of its log.
#[derive(Debug, Clone)]
pub struct Executions {
    /// The lease grace of this instance: an attempt whose row was lost gets the lease its claim
    /// granted (its timeout plus this), counted from its TaskStarted.
    pub lease_grace: Duration,
    /// How long ended executions are kept (`TASKFLOW_EXECUTOR_RETENTION_HOURS`).
    pub retention: Duration,
}

/// Why a page could not be refolded.
#[derive(Debug, thiserror::Error)]
pub enum RefoldError {
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("log row {id} is unreadable: {reason}")]
    Unreadable { id: i64, reason: String },
}

fn event_of(row: &LogRow) -> Result<Event, RefoldError> {
    let unreadable = |reason: String| RefoldError::Unreadable { id: row.id, reason };
    let kind = EventKind::from_name(&row.event_type)
        .ok_or_else(|| unreadable(format!("unknown event type {}", row.event_type)))?;
    Event::from_json(kind, row.body.clone()).map_err(|e| unreadable(e.to_string()))
}

fn task_of(row: &LogRow) -> Option<Uuid> {
    row.body.get("task_id")?.as_str()?.parse().ok()
}

impl Projection for Executions {
    const UNIT: &'static str = "executions";
    /// The log's position when the job started.
    type Bound = i64;
    /// The position of the last "execution queued" row refolded.
    type Cursor = i64;
    type Error = RefoldError;

    async fn plan(&self, conn: &mut Conn) -> Result<Plan<i64>, RefoldError> {
        let bound = store::rebuild::log_bound(conn).await?;
        let total = store::rebuild::count_queued(conn, bound).await?;
        Ok(Plan { bound, total })
    }

    async fn refold_page(
        &self,
        conn: &mut Conn,
        bound: &i64,
        after: Option<&i64>,
    ) -> Result<Option<Page<i64>>, RefoldError> {
        let page =
            store::rebuild::queued_page(conn, after.copied().unwrap_or(0), *bound, PAGE).await?;
        let (Some(first), Some(last)) = (page.first(), page.last()) else {
            return Ok(None);
        };
        let (from, last) = (first.id, last.id);
        let mut queued: Vec<Queued> = Vec::with_capacity(page.len());
        for row in &page {
            let trace = TraceContext {
                traceparent: row.traceparent.clone(),
                tracestate: row.tracestate.clone(),
            };
            let fact = log::queued(&event_of(row)?, trace, row.created_at).map_err(|e| {
                RefoldError::Unreadable {
                    id: row.id,
                    reason: e.to_string(),
                }
            })?;
            queued.extend(fact);
        }
        let mut tasks: Vec<Uuid> = queued.iter().map(|q| q.task_id).collect();
        tasks.sort_unstable();
        let current = store::rebuild::lock_executions(conn, &tasks).await?;
        let mut facts: HashMap<Uuid, Vec<Logged>> = HashMap::new();
        for row in store::rebuild::log_of(conn, &tasks, from).await? {
            let Some(task_id) = task_of(&row) else {
                continue;
            };
            if let Some(fact) = log::fact(&event_of(&row)?, row.internal, row.created_at) {
                facts.entry(task_id).or_default().push(fact);
            }
        }
        let mut interruptions: HashMap<Uuid, Vec<Logged>> = HashMap::new();
        for (task_id, attempt, outcome, at) in
            store::rebuild::interruptions_of(conn, &tasks).await?
        {
            if let Some(fact) = log::interruption(attempt, &outcome, at) {
                interruptions.entry(task_id).or_default().push(fact);
            }
        }
        let cut_off = Utc::now()
            - chrono::Duration::from_std(self.retention).unwrap_or(chrono::Duration::MAX);
        let grace_ms = self.lease_grace.as_millis() as i64;
        let mut rows = Vec::with_capacity(queued.len());
        for q in queued {
            let task_id = q.task_id;
            let execution = replay::fold(
                q,
                facts.get(&task_id).map_or(&[], Vec::as_slice),
                interruptions.get(&task_id).map_or(&[], Vec::as_slice),
            );
            if execution.state.is_final() && execution.updated_at < cut_off {
                continue;
            }
            let now = current
                .iter()
                .find(|c| c.task_id == task_id)
                .and_then(|c| Some((c.attempt, c.lease_owner.as_deref()?, c.lease_until?)));
            let lease_until = replay::lease_until(&execution, now, grace_ms);
            rows.push(refolded(execution, lease_until));
        }
        let mut tenants: Vec<Uuid> = rows.iter().map(|r| r.tenant_id).collect();
        tenants.sort_unstable();
        tenants.dedup();
        store::ensure_turns(conn, &tenants).await?;
        store::rebuild::write_refolded(conn, &rows).await?;
        Ok(Some(Page {
            count: page.len() as i64,
            last,
        }))
    }

    async fn wipe(&self, conn: &mut Conn) -> Result<(), RefoldError> {
        store::rebuild::wipe_executions(conn).await?;
        Ok(())
    }
}

fn refolded(e: replay::Execution, lease_until: Option<chrono::DateTime<Utc>>) -> Refolded {
    let q = e.queued;
    Refolded {
        task_id: q.task_id,
        tenant_id: q.tenant_id,
        task_type: q.task_type,
        priority: q.priority,
        payload: q.payload,
        max_attempts: e.max_attempts,
        timeout_ms: q.timeout_ms,
        correlation_id: q.correlation_id,
        created_event_id: q.created_event_id,
        created_event: q.created_event,
        state: e.state.as_str().to_owned(),
        attempt: e.attempt,
        due_at: e.due_at,
        lease_owner: e.lease.map(|(owner, _)| owner),
        lease_until,
        cancel_requested: e.cancel_requested,
        created_at: q.at,
        updated_at: e.updated_at,
        traceparent: q.traceparent,
        tracestate: q.tracestate,
    }
}
