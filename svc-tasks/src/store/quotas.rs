//! Per-tenant usage counters behind the quotas.

use super::prelude::*;

/// A task still counts against its tenant's quota: the SQL for "status is not terminal"
/// (`TaskStatus::is_terminal`; the test below ties the two).
const ACTIVE: &str = "t.status NOT IN ('completed', 'failed', 'cancelled')";

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

/// On every submission: [`prepared`], as diesel would re-plan an `UPDATE` each time.
pub async fn save_usage(conn: &mut Conn, tenant_id: Uuid, usage: Usage) -> Result<(), StoreError> {
    prepared(diesel::update(tenant_usage::table.find(tenant_id)).set((
        tenant_usage::active_tasks.eq(usage.active_tasks),
        tenant_usage::window_start.eq(usage.window_start),
        tenant_usage::window_count.eq(usage.window_count),
    )))
    .execute(conn)
    .await?;
    Ok(())
}

/// Frees `n` of the tenant's active-task slots (tasks that ended). Constant text: [`prepared`].
pub async fn release_active_slots(
    conn: &mut Conn,
    tenant_id: Uuid,
    n: i32,
) -> Result<(), StoreError> {
    prepared(
        diesel::update(tenant_usage::table.find(tenant_id)).set(
            tenant_usage::active_tasks.eq(sql::<diesel::sql_types::Integer>(
                "GREATEST(active_tasks - ",
            )
            .bind::<diesel::sql_types::Integer, _>(n)
            .sql(", 0)")),
        ),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Recomputes one tenant's active-task counter from the projection.
pub async fn recount_tenant_active_tasks(
    conn: &mut Conn,
    tenant_id: Uuid,
) -> Result<(), StoreError> {
    diesel::sql_query(format!(
        "UPDATE tenant_usage SET active_tasks = (SELECT count(*) FROM tasks t \
         WHERE t.tenant_id = $1 AND {ACTIVE}) WHERE tenant_id = $1"
    ))
    .bind::<diesel::sql_types::Uuid, _>(tenant_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Recomputes every tenant's active-task counter from the projection.
pub async fn recount_active_tasks(conn: &mut Conn) -> Result<(), StoreError> {
    diesel::sql_query(format!(
        "UPDATE tenant_usage u SET active_tasks = (SELECT count(*) FROM tasks t \
         WHERE t.tenant_id = u.tenant_id AND {ACTIVE})"
    ))
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::domain::TaskStatus;

    #[test]
    fn the_active_filter_excludes_exactly_the_terminal_statuses() {
        let terminal: Vec<String> = TaskStatus::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        assert_eq!(
            super::ACTIVE,
            format!("t.status NOT IN ({})", terminal.join(", "))
        );
    }
}
