//! The `tasks` projection: what reads are answered from.

use super::prelude::*;

/// Inserts many new tasks' rows in one statement.
pub async fn insert_tasks(conn: &mut Conn, tasks: &[TaskView]) -> Result<(), StoreError> {
    if tasks.is_empty() {
        return Ok(());
    }
    let rows = tasks
        .iter()
        .map(rows::TaskRow::from_view)
        .collect::<Result<Vec<_>, _>>()?;
    diesel::insert_into(tasks::table)
        .values(rows)
        .execute(conn)
        .await?;
    Ok(())
}

/// The change the state topic carries: status, attempts or cancel flag (not progress).
const STATE_CHANGED: &str = "tasks.status <> excluded.status OR tasks.attempts <> excluded.attempts \
     OR tasks.cancel_requested <> excluded.cancel_requested";

/// Writes the changed part (state, attempts, progress, outcome, times, version) of many tasks'
/// rows in one statement. The caller holds the rows' locks ([`lock_tasks`]).
pub async fn update_tasks(conn: &mut Conn, changed: &[TaskView]) -> Result<(), StoreError> {
    use diesel::upsert::excluded;
    if changed.is_empty() {
        return Ok(());
    }
    let rows = changed
        .iter()
        .map(rows::TaskRow::from_view)
        .collect::<Result<Vec<_>, _>>()?;
    diesel::insert_into(tasks::table)
        .values(rows)
        .on_conflict(tasks::id)
        .do_update()
        .set((
            tasks::status.eq(excluded(tasks::status)),
            tasks::attempts.eq(excluded(tasks::attempts)),
            tasks::progress_percent.eq(excluded(tasks::progress_percent)),
            tasks::progress_message.eq(excluded(tasks::progress_message)),
            tasks::result.eq(excluded(tasks::result)),
            tasks::error.eq(excluded(tasks::error)),
            tasks::cancel_requested.eq(excluded(tasks::cancel_requested)),
            tasks::next_attempt_at.eq(excluded(tasks::next_attempt_at)),
            tasks::updated_at.eq(excluded(tasks::updated_at)),
            tasks::started_at.eq(excluded(tasks::started_at)),
            tasks::finished_at.eq(excluded(tasks::finished_at)),
            tasks::version.eq(excluded(tasks::version)),
            // A change the state topic carries (status, attempts, cancel flag; not progress)
            // stamps the row with this transaction for the state relay, in this same statement.
            tasks::state_version.eq(diesel::dsl::sql::<diesel::sql_types::Integer>(&format!(
                "CASE WHEN {STATE_CHANGED} THEN excluded.version ELSE tasks.state_version END"
            ))),
            tasks::state_tx.eq(diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
                "CASE WHEN {STATE_CHANGED} THEN pg_current_xact_id()::text::bigint \
                 ELSE tasks.state_tx END"
            ))),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The tasks among `ids` that exist, locked for update until the transaction ends (in id
/// order, so that concurrent lockers cannot deadlock).
pub async fn lock_tasks(conn: &mut Conn, ids: &[Uuid]) -> Result<Vec<TaskView>, StoreError> {
    tasks::table
        .filter(tasks::id.eq_any(ids))
        .order(tasks::id)
        .select(rows::TaskRow::as_select())
        .for_update()
        .load(conn)
        .await?
        .into_iter()
        .map(rows::TaskRow::into_view)
        .collect()
}

/// The tasks among `ids` that exist, as (id, tenant, schedule). Not locked: a task's row is
/// written with its first event, and the log's primary key refuses a second first event, so a
/// task created concurrently after this read makes the creating transaction fail (and its
/// consumer retry), never a second task.
pub async fn existing_tasks(
    conn: &mut Conn,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, Uuid, Option<Uuid>)>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(tasks::table
        .filter(tasks::id.eq_any(ids))
        .select((tasks::id, tasks::tenant_id, tasks::schedule_id))
        .load(conn)
        .await?)
}

/// Replaces the row wholesale (projection rebuild).
pub async fn upsert_task(conn: &mut Conn, task: &TaskView) -> Result<(), StoreError> {
    let row = rows::TaskRow::from_view(task)?;
    diesel::insert_into(tasks::table)
        .values(&row)
        .on_conflict(tasks::id)
        .do_update()
        .set(&row)
        .execute(conn)
        .await?;
    Ok(())
}

/// The task, locked for update until the transaction ends.
pub async fn lock_task(conn: &mut Conn, task_id: Uuid) -> Result<Option<TaskView>, StoreError> {
    tasks::table
        .find(task_id)
        .select(rows::TaskRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .map(rows::TaskRow::into_view)
        .transpose()
}

/// The tenant's task; another tenant's task is as absent as a missing one.
pub async fn get_task(
    conn: &mut Conn,
    tenant_id: Uuid,
    task_id: Uuid,
) -> Result<Option<TaskView>, StoreError> {
    tasks::table
        .filter(tasks::id.eq(task_id))
        .filter(tasks::tenant_id.eq(tenant_id))
        .select(rows::TaskRow::as_select())
        .first(conn)
        .await
        .optional()?
        .map(rows::TaskRow::into_view)
        .transpose()
}

pub async fn get_tasks(
    conn: &mut Conn,
    tenant_id: Uuid,
    ids: &[Uuid],
) -> Result<Vec<TaskView>, StoreError> {
    tasks::table
        .filter(tasks::id.eq_any(ids))
        .filter(tasks::tenant_id.eq(tenant_id))
        .select(rows::TaskRow::as_select())
        .load(conn)
        .await?
        .into_iter()
        .map(rows::TaskRow::into_view)
        .collect()
}

/// Newest first; `filter.before` continues after the last row of a previous page.
pub async fn list_tasks(
    conn: &mut Conn,
    tenant_id: Uuid,
    filter: &ListFilter,
) -> Result<Vec<TaskView>, StoreError> {
    let mut query = tasks::table
        .filter(tasks::tenant_id.eq(tenant_id))
        .select(rows::TaskRow::as_select())
        .order((tasks::created_at.desc(), tasks::id.desc()))
        .limit(filter.limit)
        .into_boxed();
    if let Some(status) = &filter.status {
        query = query.filter(tasks::status.eq(status));
    }
    if let Some(task_type) = &filter.task_type {
        query = query.filter(tasks::task_type.eq(task_type));
    }
    if let Some(priority) = &filter.priority {
        query = query.filter(tasks::priority.eq(priority));
    }
    if let Some(after) = filter.created_after {
        query = query.filter(tasks::created_at.gt(after));
    }
    if let Some((at, id)) = filter.before {
        query = query.filter(
            tasks::created_at
                .lt(at)
                .or(tasks::created_at.eq(at).and(tasks::id.lt(id))),
        );
    }
    query
        .load(conn)
        .await?
        .into_iter()
        .map(rows::TaskRow::into_view)
        .collect()
}

/// Any fixed number; the state relays of one database agree on it (one pass at a time).
const STATE_RELAY_LOCK: i64 = 0x7374_6174_6500_0001;

/// Takes the state relay's turn for the caller's transaction; `false` while another instance's
/// relay is in a pass. An advisory lock, not a row lock, so the pass's transaction gets no
/// transaction id of its own before it moves the cursor (it would hold its own horizon back).
pub async fn take_state_relay_turn(conn: &mut Conn) -> Result<bool, StoreError> {
    Ok(diesel::select(sql::<Bool>(&format!(
        "pg_try_advisory_xact_lock({STATE_RELAY_LOCK})"
    )))
    .get_result(conn)
    .await?)
}

/// Up to `limit` tasks whose state changed after the cursor, in (state_tx, id) order, each with
/// its position. Only changes of transactions that have all ended are returned (stamps below
/// the oldest running transaction id): a transaction still running may commit a smaller
/// stamp than one already seen, so stamps from it onwards wait for the next pass.
pub async fn states_after_cursor(
    conn: &mut Conn,
    limit: i64,
) -> Result<Vec<(TaskView, (i64, Uuid))>, StoreError> {
    use diesel::sql_types::Uuid as SqlUuid;
    let (after_tx, after_id): (i64, Uuid) = state_relay_cursor::table
        .select((state_relay_cursor::state_tx, state_relay_cursor::task_id))
        .first(conn)
        .await?;
    let horizon: i64 = diesel::select(sql::<BigInt>(
        "pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
    ))
    .get_result(conn)
    .await?;
    let rows: Vec<(rows::TaskRow, i64)> = tasks::table
        .filter(
            sql::<Bool>("(tasks.state_tx, tasks.id) > (")
                .bind::<BigInt, _>(after_tx)
                .sql(", ")
                .bind::<SqlUuid, _>(after_id)
                .sql(")"),
        )
        .filter(tasks::state_tx.lt(horizon))
        .order((tasks::state_tx.asc(), tasks::id.asc()))
        .limit(limit)
        .select((rows::TaskRow::as_select(), tasks::state_tx))
        .load(conn)
        .await?;
    rows.into_iter()
        .map(|(row, tx)| {
            let id = row.id;
            Ok((row.into_view()?, (tx, id)))
        })
        .collect()
}

/// Records that every state up to `position` is on the state topic.
pub async fn move_state_cursor(conn: &mut Conn, position: (i64, Uuid)) -> Result<(), StoreError> {
    diesel::update(state_relay_cursor::table)
        .set((
            state_relay_cursor::state_tx.eq(position.0),
            state_relay_cursor::task_id.eq(position.1),
            state_relay_cursor::moved_at.eq(now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
