//! What streams, history and the dashboard read.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use serde::Serialize;
use uuid::Uuid;

use super::schema::{notifications, status_counts, tasks, tenant_feeds};
use super::{Conn, NotificationRow, StoreError, TaskRow};
use crate::domain::TaskStatus;

/// (last sequence number handed out, highest one pruned) of the tenant; (0, 0) before its first.
pub async fn cursor_of(conn: &mut Conn, tenant_id: Uuid) -> Result<(i64, i64), StoreError> {
    Ok(tenant_feeds::table
        .find(tenant_id)
        .select((tenant_feeds::last_seq, tenant_feeds::pruned_through))
        .first(conn)
        .await
        .optional()?
        .unwrap_or((0, 0)))
}

/// The tenant's notifications after `after`, oldest first; of one task if `task_id` is given.
pub async fn history(
    conn: &mut Conn,
    tenant_id: Uuid,
    after: i64,
    limit: i64,
    task_id: Option<Uuid>,
) -> Result<Vec<NotificationRow>, StoreError> {
    let mut query = notifications::table
        .filter(notifications::tenant_id.eq(tenant_id))
        .filter(notifications::seq.gt(after))
        .order(notifications::seq)
        .limit(limit)
        .select(NotificationRow::as_select())
        .into_boxed();
    if let Some(task_id) = task_id {
        query = query.filter(notifications::task_id.eq(task_id));
    }
    Ok(query.load(conn).await?)
}

/// New notifications of several tenants at once, each after its own cursor, in (tenant, seq)
/// order: the fan-out's one query per wake-up.
pub async fn after_all(
    conn: &mut Conn,
    cursors: &[(Uuid, i64)],
    limit: i64,
) -> Result<Vec<NotificationRow>, StoreError> {
    if cursors.is_empty() {
        return Ok(Vec::new());
    }
    let (tenants, afters): (Vec<Uuid>, Vec<i64>) = cursors.iter().copied().unzip();
    Ok(diesel::sql_query(
        "SELECT n.* FROM notifications n \
         JOIN unnest($1::uuid[], $2::bigint[]) AS c(tenant_id, after) \
           ON n.tenant_id = c.tenant_id AND n.seq > c.after \
         ORDER BY n.tenant_id, n.seq LIMIT $3",
    )
    .bind::<Array<SqlUuid>, _>(tenants)
    .bind::<Array<BigInt>, _>(afters)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await?)
}

/// The tenant at one instant: its sequence number, counters per status and tasks, read in one
/// snapshot so a client that starts streaming after `seq` neither misses nor repeats a change.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub seq: i64,
    pub counts: BTreeMap<&'static str, i64>,
    pub tasks: Vec<TaskRow>,
}

/// The most recently changed tasks (`active_only`: those not ended yet), at most `limit`.
pub async fn overview(
    conn: &mut Conn,
    tenant_id: Uuid,
    limit: i64,
    active_only: bool,
) -> Result<Overview, StoreError> {
    conn.build_transaction()
        .repeatable_read()
        .read_only()
        .run::<_, StoreError, _>(async move |conn| {
            let (seq, _) = cursor_of(conn, tenant_id).await?;
            let stored: Vec<(String, i64)> = status_counts::table
                .filter(status_counts::tenant_id.eq(tenant_id))
                .select((status_counts::status, status_counts::n))
                .load(conn)
                .await?;
            let mut counts: BTreeMap<&'static str, i64> =
                TaskStatus::ALL.iter().map(|s| (s.as_str(), 0)).collect();
            for (status, n) in stored {
                if let Some(status) = TaskStatus::parse(&status) {
                    counts.insert(status.as_str(), n);
                }
            }
            let mut query = tasks::table
                .filter(tasks::tenant_id.eq(tenant_id))
                .order(tasks::updated_at.desc())
                .limit(limit)
                .select(TaskRow::as_select())
                .into_boxed();
            if active_only {
                let active: Vec<&str> = TaskStatus::ALL
                    .into_iter()
                    .filter(|s| !s.is_terminal())
                    .map(TaskStatus::as_str)
                    .collect();
                query = query.filter(tasks::status.eq_any(active));
            }
            let tasks = query.load(conn).await?;
            Ok(Overview { seq, counts, tasks })
        })
        .await
}

/// The tenant a task belongs to, if svc-notify knows the task.
pub async fn task_tenant(conn: &mut Conn, task_id: Uuid) -> Result<Option<Uuid>, StoreError> {
    Ok(tasks::table
        .find(task_id)
        .select(tasks::tenant_id)
        .first(conn)
        .await
        .optional()?)
}

/// True when svc-notify knows the task and it has ended.
pub async fn task_has_ended(conn: &mut Conn, task_id: Uuid) -> Result<bool, StoreError> {
    let status: Option<String> = tasks::table
        .find(task_id)
        .select(tasks::status)
        .first(conn)
        .await
        .optional()?;
    Ok(status
        .and_then(|s| TaskStatus::parse(&s))
        .is_some_and(TaskStatus::is_terminal))
}
