//! What the ingest writes, one statement per table per batch.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::schema::{notifications, status_counts, tasks, tenant_feeds};
use super::{Conn, StoreError, TaskRow};

/// A notification with its place in the tenant's sequence, ready to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = notifications)]
pub struct StoredNotification {
    pub tenant_id: Uuid,
    pub seq: i64,
    pub event_id: Uuid,
    pub task_id: Uuid,
    pub event_type: String,
    pub status: String,
    pub previous_status: Option<String>,
    pub task_type: Option<String>,
    pub priority: Option<String>,
    pub labels: serde_json::Value,
    pub percent: Option<i32>,
    pub message: Option<String>,
    pub attempt: Option<i32>,
    pub error: Option<String>,
    pub result_summary: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

/// The tasks' rows, locked until the transaction ends (in id order, so two batches touching
/// the same tasks wait for each other instead of deadlocking).
pub async fn lock_tasks(conn: &mut Conn, ids: &[Uuid]) -> Result<Vec<TaskRow>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(tasks::table
        .filter(tasks::task_id.eq_any(ids))
        .order(tasks::task_id)
        .select(TaskRow::as_select())
        .for_update()
        .load(conn)
        .await?)
}

/// Reserves `n` sequence numbers for each tenant; returns the first of each tenant's range.
/// The tenant's feed row stays locked until commit, so numbers become visible in order and
/// without gaps: a reader that saw N never later finds a new N-1.
pub async fn allocate_seqs(
    conn: &mut Conn,
    counts: &[(Uuid, i64)],
) -> Result<HashMap<Uuid, i64>, StoreError> {
    let mut counts = counts.to_vec();
    counts.sort_unstable();
    let rows: Vec<_> = counts
        .iter()
        .map(|(tenant, n)| {
            (
                tenant_feeds::tenant_id.eq(*tenant),
                tenant_feeds::last_seq.eq(*n),
            )
        })
        .collect();
    if rows.is_empty() {
        return Ok(HashMap::new());
    }
    let last: Vec<(Uuid, i64)> = diesel::insert_into(tenant_feeds::table)
        .values(rows)
        .on_conflict(tenant_feeds::tenant_id)
        .do_update()
        .set(tenant_feeds::last_seq.eq(tenant_feeds::last_seq + excluded(tenant_feeds::last_seq)))
        .returning((tenant_feeds::tenant_id, tenant_feeds::last_seq))
        .get_results(conn)
        .await?;
    let wanted: HashMap<Uuid, i64> = counts.into_iter().collect();
    Ok(last
        .into_iter()
        .map(|(tenant, last)| (tenant, last - wanted.get(&tenant).copied().unwrap_or(0) + 1))
        .collect())
}

pub async fn insert_notifications(
    conn: &mut Conn,
    rows: &[StoredNotification],
) -> Result<(), StoreError> {
    // 16 parameters a row; PostgreSQL takes at most 65,535 per statement.
    for chunk in rows.chunks(2_000) {
        diesel::insert_into(notifications::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Writes the tasks' views (new or changed).
pub async fn save_tasks(conn: &mut Conn, rows: &[TaskRow]) -> Result<(), StoreError> {
    for chunk in rows.chunks(2_000) {
        let values: Vec<_> = chunk
            .iter()
            .map(|t| {
                (
                    tasks::task_id.eq(t.task_id),
                    tasks::tenant_id.eq(t.tenant_id),
                    tasks::task_type.eq(&t.task_type),
                    tasks::priority.eq(&t.priority),
                    tasks::labels.eq(&t.labels),
                    tasks::status.eq(&t.status),
                    tasks::percent.eq(t.percent),
                    tasks::message.eq(&t.message),
                    tasks::attempt.eq(t.attempt),
                    tasks::error.eq(&t.error),
                    tasks::cancel_requested.eq(t.cancel_requested),
                    tasks::created_at.eq(t.created_at),
                    tasks::updated_at.eq(t.updated_at),
                    tasks::last_seq.eq(t.last_seq),
                )
            })
            .collect();
        diesel::insert_into(tasks::table)
            .values(values)
            .on_conflict(tasks::task_id)
            .do_update()
            .set((
                tasks::task_type.eq(excluded(tasks::task_type)),
                tasks::priority.eq(excluded(tasks::priority)),
                tasks::labels.eq(excluded(tasks::labels)),
                tasks::status.eq(excluded(tasks::status)),
                tasks::percent.eq(excluded(tasks::percent)),
                tasks::message.eq(excluded(tasks::message)),
                tasks::attempt.eq(excluded(tasks::attempt)),
                tasks::error.eq(excluded(tasks::error)),
                tasks::cancel_requested.eq(excluded(tasks::cancel_requested)),
                tasks::created_at.eq(excluded(tasks::created_at)),
                tasks::updated_at.eq(excluded(tasks::updated_at)),
                tasks::last_seq.eq(excluded(tasks::last_seq)),
            ))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Adds `delta` to each (tenant, status) counter.
pub async fn add_to_counts(
    conn: &mut Conn,
    deltas: &[(Uuid, &'static str, i64)],
) -> Result<(), StoreError> {
    // One row per counter: an upsert may touch a row only once per statement.
    let mut summed: std::collections::BTreeMap<(Uuid, &'static str), i64> = Default::default();
    for (tenant, status, delta) in deltas {
        *summed.entry((*tenant, *status)).or_default() += delta;
    }
    summed.retain(|_, delta| *delta != 0);
    if summed.is_empty() {
        return Ok(());
    }
    let deltas: Vec<(Uuid, &'static str, i64)> =
        summed.into_iter().map(|((t, s), d)| (t, s, d)).collect();
    let values: Vec<_> = deltas
        .iter()
        .map(|(tenant, status, delta)| {
            (
                status_counts::tenant_id.eq(*tenant),
                status_counts::status.eq(*status),
                status_counts::n.eq(*delta),
            )
        })
        .collect();
    diesel::insert_into(status_counts::table)
        .values(values)
        .on_conflict((status_counts::tenant_id, status_counts::status))
        .do_update()
        .set(status_counts::n.eq(status_counts::n + excluded(status_counts::n)))
        .execute(conn)
        .await?;
    Ok(())
}
