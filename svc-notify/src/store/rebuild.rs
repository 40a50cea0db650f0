//! What a projection rebuild reads and writes: the history task by task, the tasks' views, the
//! counters recounted from them, and the wipe tests start from.
//!
//! A rebuild walks the history in (tenant, task) order, the order of `notifications_by_task`,
//! a page of tasks at a time; a page's notifications are one range scan of that index.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Uuid as SqlUuid};
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::schema::tasks;
use super::{Conn, NotificationRow, StoreError, TaskRow};

/// A task's place in the walk: (tenant, task).
pub type HistoryKey = (Uuid, Uuid);

#[derive(QueryableByName)]
struct Key {
    #[diesel(sql_type = SqlUuid)]
    tenant_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    task_id: Uuid,
}

/// Tasks with any history left.
pub async fn count_histories(conn: &mut Conn) -> Result<i64, StoreError> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let count: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM (SELECT DISTINCT tenant_id, task_id FROM notifications) h",
    )
    .get_result(conn)
    .await?;
    Ok(count.n)
}

/// The next `limit` tasks with history after `after` (from the first without one).
pub async fn history_keys(
    conn: &mut Conn,
    after: Option<HistoryKey>,
    limit: i64,
) -> Result<Vec<HistoryKey>, StoreError> {
    // Two texts rather than an `OR` on a flag, so each is a plain range of the index.
    let keys: Vec<Key> = match after {
        None => {
            diesel::sql_query(
                "SELECT DISTINCT tenant_id, task_id FROM notifications \
                 ORDER BY tenant_id, task_id LIMIT $1",
            )
            .bind::<BigInt, _>(limit)
            .load(conn)
            .await?
        }
        Some((tenant, task)) => {
            diesel::sql_query(
                "SELECT DISTINCT tenant_id, task_id FROM notifications \
                 WHERE (tenant_id, task_id) > ($1, $2) \
                 ORDER BY tenant_id, task_id LIMIT $3",
            )
            .bind::<SqlUuid, _>(tenant)
            .bind::<SqlUuid, _>(task)
            .bind::<BigInt, _>(limit)
            .load(conn)
            .await?
        }
    };
    Ok(keys.into_iter().map(|k| (k.tenant_id, k.task_id)).collect())
}

/// The history of every task after `after` up to `last` (both in the walk's order), in
/// (tenant, task, seq) order.
pub async fn histories(
    conn: &mut Conn,
    after: Option<HistoryKey>,
    last: HistoryKey,
) -> Result<Vec<NotificationRow>, StoreError> {
    let rows = match after {
        None => {
            diesel::sql_query(
                "SELECT * FROM notifications WHERE (tenant_id, task_id) <= ($1, $2) \
                 ORDER BY tenant_id, task_id, seq",
            )
            .bind::<SqlUuid, _>(last.0)
            .bind::<SqlUuid, _>(last.1)
            .load(conn)
            .await?
        }
        Some((tenant, task)) => {
            diesel::sql_query(
                "SELECT * FROM notifications \
                 WHERE (tenant_id, task_id) > ($1, $2) AND (tenant_id, task_id) <= ($3, $4) \
                 ORDER BY tenant_id, task_id, seq",
            )
            .bind::<SqlUuid, _>(tenant)
            .bind::<SqlUuid, _>(task)
            .bind::<SqlUuid, _>(last.0)
            .bind::<SqlUuid, _>(last.1)
            .load(conn)
            .await?
        }
    };
    Ok(rows)
}

/// Writes the views of tasks that had none when their rows were locked; a view the live path
/// created since (its row committed meanwhile) stays as the live path wrote it.
pub async fn insert_missing_tasks(conn: &mut Conn, rows: &[TaskRow]) -> Result<(), StoreError> {
    for chunk in rows.chunks(2_000) {
        diesel::insert_into(tasks::table)
            .values(chunk)
            .on_conflict(tasks::task_id)
            .do_nothing()
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Overwrites the views of tasks whose rows this transaction holds locked.
pub async fn overwrite_tasks(conn: &mut Conn, rows: &[TaskRow]) -> Result<(), StoreError> {
    for chunk in rows.chunks(2_000) {
        diesel::insert_into(tasks::table)
            .values(chunk)
            .on_conflict(tasks::task_id)
            .do_update()
            .set((
                tasks::tenant_id.eq(excluded(tasks::tenant_id)),
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

/// Sets every (tenant, status) counter to the number of tasks the views say have it (0 for a
/// counter no task has any more). Every writer of a task's status changes its counters in the
/// same transaction, so the table lock first waits for those that already did (their changes
/// are then counted) and holds back the rest until this commits (their deltas then land on the
/// recount): the counters match the views at commit. Plain reads of the counters go on.
pub async fn recount_statuses(conn: &mut Conn) -> Result<(), StoreError> {
    diesel::sql_query("LOCK TABLE status_counts IN EXCLUSIVE MODE")
        .execute(conn)
        .await?;
    diesel::sql_query(
        "INSERT INTO status_counts (tenant_id, status, n) \
         SELECT tenant_id, status, count(*) FROM tasks GROUP BY tenant_id, status \
         ON CONFLICT (tenant_id, status) DO UPDATE SET n = excluded.n \
         WHERE status_counts.n <> excluded.n",
    )
    .execute(conn)
    .await?;
    diesel::sql_query(
        "UPDATE status_counts c SET n = 0 WHERE n <> 0 AND NOT EXISTS \
         (SELECT 1 FROM tasks t WHERE t.tenant_id = c.tenant_id AND t.status = c.status)",
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Empties the views and the counters (tests start a rebuild from nothing with it).
pub async fn wipe_projections(conn: &mut Conn) -> Result<(), StoreError> {
    diesel::sql_query("DELETE FROM tasks").execute(conn).await?;
    diesel::sql_query("DELETE FROM status_counts")
        .execute(conn)
        .await?;
    Ok(())
}
