//! Every SQL statement of svc-tasks, as small functions over one connection. Callers own the
//! transaction; nothing here commits on its own.

pub mod rebuild_jobs;
mod rows;
pub mod schema;

use chrono::{DateTime, Utc};
use diesel::dsl::{now, sql};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{BigInt, Bool};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use taskflow_schemas::{Event, EventKind};
use uuid::Uuid;

use crate::domain::TaskView;
use crate::domain::quota::Usage;
pub use rows::{ListFilter, StoredEvent, TenantRow};
use schema::{api_keys, idempotency_keys, task_events, tasks, tenant_usage, tenants};

pub type Conn = AsyncPgConnection;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] DieselError),
    #[error("stored {what} is unreadable: {reason}")]
    Corrupt { what: &'static str, reason: String },
    #[error("task {task} changed concurrently (expected version {expected})")]
    Conflict { task: Uuid, expected: i32 },
    #[error(transparent)]
    Outbox(#[from] taskflow_platform::outbox::OutboxError),
    #[error("tenant name {0:?} is taken")]
    NameTaken(String),
}

fn is_unique_violation(e: &DieselError) -> bool {
    matches!(
        e,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

// ---- tenants and keys -------------------------------------------------------------------

pub async fn insert_tenant(conn: &mut Conn, tenant: &TenantRow) -> Result<(), StoreError> {
    diesel::insert_into(tenants::table)
        .values(tenant)
        .execute(conn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::NameTaken(tenant.name.clone())
            } else {
                e.into()
            }
        })?;
    diesel::insert_into(tenant_usage::table)
        .values(tenant_usage::tenant_id.eq(tenant.id))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn get_tenant(conn: &mut Conn, id: Uuid) -> Result<Option<TenantRow>, StoreError> {
    Ok(tenants::table
        .find(id)
        .select(TenantRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// The tenant row, share-locked: submissions of one tenant proceed side by side, while a
/// change of its limits (which takes the row exclusively) waits for them and they for it.
pub async fn lock_tenant_shared(
    conn: &mut Conn,
    id: Uuid,
) -> Result<Option<TenantRow>, StoreError> {
    Ok(tenants::table
        .find(id)
        .select(TenantRow::as_select())
        .for_share()
        .first(conn)
        .await
        .optional()?)
}

pub async fn lock_tenant_exclusive(
    conn: &mut Conn,
    id: Uuid,
) -> Result<Option<TenantRow>, StoreError> {
    Ok(tenants::table
        .find(id)
        .select(TenantRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?)
}

pub async fn update_tenant(conn: &mut Conn, tenant: &TenantRow) -> Result<(), StoreError> {
    diesel::update(tenants::table.find(tenant.id))
        .set((
            tenants::max_active_tasks.eq(tenant.max_active_tasks),
            tenants::submissions_per_minute.eq(tenant.submissions_per_minute),
            tenants::allowed_priorities.eq(&tenant.allowed_priorities),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn tenant_by_key_hash(
    conn: &mut Conn,
    key_hash: &[u8],
) -> Result<Option<TenantRow>, StoreError> {
    Ok(api_keys::table
        .inner_join(tenants::table.on(tenants::id.eq(api_keys::tenant_id)))
        .filter(api_keys::key_hash.eq(key_hash))
        .filter(api_keys::revoked_at.is_null())
        .select(TenantRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

pub async fn insert_api_key(
    conn: &mut Conn,
    id: Uuid,
    tenant_id: Uuid,
    key_hash: &[u8],
    key_prefix: &str,
) -> Result<(), StoreError> {
    diesel::insert_into(api_keys::table)
        .values((
            api_keys::id.eq(id),
            api_keys::tenant_id.eq(tenant_id),
            api_keys::key_hash.eq(key_hash),
            api_keys::key_prefix.eq(key_prefix),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// True when an active key of this tenant was revoked.
pub async fn revoke_api_key(
    conn: &mut Conn,
    tenant_id: Uuid,
    key_id: Uuid,
) -> Result<bool, StoreError> {
    let changed = diesel::update(
        api_keys::table
            .filter(api_keys::id.eq(key_id))
            .filter(api_keys::tenant_id.eq(tenant_id))
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(now))
    .execute(conn)
    .await?;
    Ok(changed == 1)
}

// ---- quotas ------------------------------------------------------------------------------

/// The tenant's counters, locked until the transaction ends: concurrent submissions of one
/// tenant queue here, which is what makes the quota check atomic.
pub async fn lock_usage(conn: &mut Conn, tenant_id: Uuid) -> Result<Usage, StoreError> {
    let (active_tasks, window_start, window_count) = tenant_usage::table
        .find(tenant_id)
        .select((
            tenant_usage::active_tasks,
            tenant_usage::window_start,
            tenant_usage::window_count,
        ))
        .for_update()
        .first::<(i32, DateTime<Utc>, i32)>(conn)
        .await?;
    Ok(Usage {
        active_tasks,
        window_start,
        window_count,
    })
}

pub async fn save_usage(conn: &mut Conn, tenant_id: Uuid, usage: Usage) -> Result<(), StoreError> {
    diesel::update(tenant_usage::table.find(tenant_id))
        .set((
            tenant_usage::active_tasks.eq(usage.active_tasks),
            tenant_usage::window_start.eq(usage.window_start),
            tenant_usage::window_count.eq(usage.window_count),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// A task of the tenant ended: its active slot frees.
pub async fn release_active_slot(conn: &mut Conn, tenant_id: Uuid) -> Result<(), StoreError> {
    diesel::update(tenant_usage::table.find(tenant_id))
        .set(
            tenant_usage::active_tasks.eq(sql::<diesel::sql_types::Integer>(
                "GREATEST(active_tasks - 1, 0)",
            )),
        )
        .execute(conn)
        .await?;
    Ok(())
}

// ---- idempotency -------------------------------------------------------------------------

/// Takes a transaction-scoped advisory lock on (tenant, key); false when another transaction
/// holds it, i.e. a request with the same key is in flight.
pub async fn try_lock_idempotency_key(conn: &mut Conn, lock_id: i64) -> Result<bool, StoreError> {
    Ok(diesel::select(
        sql::<Bool>("pg_try_advisory_xact_lock(")
            .bind::<BigInt, _>(lock_id)
            .sql(")"),
    )
    .get_result(conn)
    .await?)
}

/// (request hash, task id) remembered for this key.
pub async fn find_idempotency_key(
    conn: &mut Conn,
    tenant_id: Uuid,
    key: &str,
) -> Result<Option<(Vec<u8>, Uuid)>, StoreError> {
    Ok(idempotency_keys::table
        .find((tenant_id, key))
        .select((idempotency_keys::request_hash, idempotency_keys::task_id))
        .first(conn)
        .await
        .optional()?)
}

pub async fn insert_idempotency_key(
    conn: &mut Conn,
    tenant_id: Uuid,
    key: &str,
    request_hash: &[u8],
    task_id: Uuid,
) -> Result<(), StoreError> {
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::tenant_id.eq(tenant_id),
            idempotency_keys::key.eq(key),
            idempotency_keys::request_hash.eq(request_hash),
            idempotency_keys::task_id.eq(task_id),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

// ---- event log ---------------------------------------------------------------------------

/// Appends `event` at `version` of the task's stream. `Ok(false)`: an event with this id is
/// already recorded (a redelivery), nothing was written. A taken version is a `Conflict`.
pub async fn append_event(
    conn: &mut Conn,
    stream_id: Uuid,
    version: i32,
    event: &Event,
) -> Result<bool, StoreError> {
    let meta = event.meta();
    let body = event.to_json().map_err(|e| StoreError::Corrupt {
        what: "event",
        reason: e.to_string(),
    })?;
    let inserted = diesel::insert_into(task_events::table)
        .values((
            task_events::stream_id.eq(stream_id),
            task_events::version.eq(version),
            task_events::event_id.eq(meta.event_id),
            task_events::event_type.eq(event.kind().name()),
            task_events::tenant_id.eq(meta.tenant_id),
            task_events::correlation_id.eq(&meta.correlation_id),
            task_events::occurred_at.eq(crate::domain::task::millis_to_time(meta.occurred_at)),
            task_events::body.eq(body),
        ))
        .on_conflict(task_events::event_id)
        .do_nothing()
        .execute(conn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict {
                    task: stream_id,
                    expected: version - 1,
                }
            } else {
                e.into()
            }
        })?;
    Ok(inserted == 1)
}

/// The task's events in order, as stored (for the history endpoint).
pub async fn task_history(conn: &mut Conn, task_id: Uuid) -> Result<Vec<StoredEvent>, StoreError> {
    Ok(task_events::table
        .filter(task_events::stream_id.eq(task_id))
        .order(task_events::version.asc())
        .select(StoredEvent::as_select())
        .load(conn)
        .await?)
}

/// The task's events in order, as domain events (for rebuilding the projection).
pub async fn stream_events(conn: &mut Conn, task_id: Uuid) -> Result<Vec<Event>, StoreError> {
    task_history(conn, task_id)
        .await?
        .into_iter()
        .map(StoredEvent::into_event)
        .collect()
}

/// Ids of the task streams up to `upto`, in creation order, `limit` at a time after `after`.
pub async fn stream_ids(
    conn: &mut Conn,
    after: Option<Uuid>,
    upto: Uuid,
    limit: i64,
) -> Result<Vec<Uuid>, StoreError> {
    let mut query = task_events::table
        .filter(task_events::version.eq(1))
        .filter(task_events::stream_id.le(upto))
        .select(task_events::stream_id)
        .order(task_events::stream_id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(task_events::stream_id.gt(after));
    }
    Ok(query.load(conn).await?)
}

// ---- projection --------------------------------------------------------------------------

pub async fn insert_task(conn: &mut Conn, task: &TaskView) -> Result<(), StoreError> {
    diesel::insert_into(tasks::table)
        .values(rows::TaskRow::from_view(task)?)
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes `task` over the row, provided the row is still at `expected_version`.
pub async fn update_task(
    conn: &mut Conn,
    task: &TaskView,
    expected_version: i32,
) -> Result<(), StoreError> {
    let row = rows::TaskRow::from_view(task)?;
    let changed = diesel::update(
        tasks::table
            .filter(tasks::id.eq(task.id))
            .filter(tasks::version.eq(expected_version)),
    )
    .set(&row)
    .execute(conn)
    .await?;
    if changed == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict {
            task: task.id,
            expected: expected_version,
        })
    }
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

// ---- outbox: the table and its statements are shared by every service (taskflow-platform) --

pub use taskflow_platform::outbox::{backlog as outbox_backlog, enqueue};

/// `SELECT 1`, for readiness.
pub async fn ping(conn: &mut Conn) -> Result<(), StoreError> {
    diesel::select(sql::<Bool>("true"))
        .get_result::<bool>(conn)
        .await?;
    Ok(())
}

pub fn event_kind(name: &str) -> Result<EventKind, StoreError> {
    EventKind::from_name(name).ok_or_else(|| StoreError::Corrupt {
        what: "event type",
        reason: name.to_owned(),
    })
}

/// Recomputes one tenant's active-task counter from the projection.
pub async fn recount_tenant_active_tasks(
    conn: &mut Conn,
    tenant_id: Uuid,
) -> Result<(), StoreError> {
    diesel::sql_query(
        "UPDATE tenant_usage SET active_tasks = (SELECT count(*) FROM tasks t \
         WHERE t.tenant_id = $1 AND t.status NOT IN ('completed', 'failed', 'cancelled')) \
         WHERE tenant_id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(tenant_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Recomputes every tenant's active-task counter from the projection.
pub async fn recount_active_tasks(conn: &mut Conn) -> Result<(), StoreError> {
    diesel::sql_query(
        "UPDATE tenant_usage u SET active_tasks = (SELECT count(*) FROM tasks t \
         WHERE t.tenant_id = u.tenant_id AND t.status NOT IN ('completed', 'failed', 'cancelled'))",
    )
    .execute(conn)
    .await?;
    Ok(())
}
