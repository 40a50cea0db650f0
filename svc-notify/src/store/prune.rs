//! Retention: history and ended tasks older than the cut-off go; each tenant's feed remembers
//! how far it was pruned, so a client resuming from before that is told to resync instead of
//! silently skipping.

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Timestamptz};
use diesel_async::{AsyncConnection, RunQueryDsl};

use taskflow_platform::maintenance::BoxFuture;

use super::Conn;

/// An ended task: the SQL for `TaskStatus::is_terminal` (the test below ties the two).
const ENDED: &str = "status IN ('completed', 'failed', 'cancelled')";

/// Deletes at most `batch` notifications recorded before `cut_off` (and ended tasks last changed
/// before it, with their counters); returns how many notifications went. The maintenance room's
/// cleaner of the history (`startup::cleaners`).
pub fn prune_before(
    conn: &mut Conn,
    cut_off: DateTime<Utc>,
    batch: i64,
) -> BoxFuture<'_, Result<usize, diesel::result::Error>> {
    // The history's append-only trigger lets this transaction's deletes through.
    Box::pin(conn.transaction(async move |conn| {
        diesel::sql_query("SELECT set_config('taskflow.retention', 'on', true)")
            .execute(conn)
            .await?;
        prune(conn, cut_off, batch).await
    }))
}

async fn prune(
    conn: &mut Conn,
    cut_off: DateTime<Utc>,
    batch: i64,
) -> Result<usize, diesel::result::Error> {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let pruned: Count = diesel::sql_query(
        "WITH gone AS ( \
             DELETE FROM notifications WHERE (tenant_id, seq) IN ( \
                 SELECT tenant_id, seq FROM notifications WHERE recorded_at < $1 \
                 ORDER BY recorded_at LIMIT $2) \
             RETURNING tenant_id, seq), \
         marks AS ( \
             UPDATE tenant_feeds f SET pruned_through = GREATEST(f.pruned_through, g.top) \
             FROM (SELECT tenant_id, max(seq) AS top FROM gone GROUP BY tenant_id) g \
             WHERE f.tenant_id = g.tenant_id) \
         SELECT count(*) AS n FROM gone",
    )
    .bind::<Timestamptz, _>(cut_off)
    .bind::<BigInt, _>(batch)
    .get_result(conn)
    .await?;
    diesel::sql_query(format!(
        "WITH gone AS ( \
             DELETE FROM tasks WHERE task_id IN ( \
                 SELECT task_id FROM tasks \
                 WHERE updated_at < $1 AND {ENDED} \
                 LIMIT $2) \
             RETURNING tenant_id, status) \
         UPDATE status_counts c SET n = c.n - g.k \
         FROM (SELECT tenant_id, status, count(*) AS k FROM gone GROUP BY tenant_id, status) g \
         WHERE c.tenant_id = g.tenant_id AND c.status = g.status"
    ))
    .bind::<Timestamptz, _>(cut_off)
    .bind::<BigInt, _>(batch)
    .execute(conn)
    .await?;
    // Held for a creation that never came within the retention (its request was lost to the
    // topic's own retention): nothing will tell them.
    diesel::sql_query("DELETE FROM held_events WHERE held_at < $1")
        .bind::<Timestamptz, _>(cut_off)
        .execute(conn)
        .await?;
    Ok(usize::try_from(pruned.n).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use crate::domain::TaskStatus;

    #[test]
    fn ended_names_exactly_the_terminal_statuses() {
        let terminal: Vec<String> = TaskStatus::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        assert_eq!(super::ENDED, format!("status IN ({})", terminal.join(", ")));
    }
}
