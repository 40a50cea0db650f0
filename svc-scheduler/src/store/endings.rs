//! The runs' endings as svc-scheduler learnt them (`run_endings`): input facts the consumer
//! records and a rebuild of the occurrences reads back, and the lock that keeps the two apart.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Timestamptz};
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;
use taskflow_platform::db::prepared;
use taskflow_platform::maintenance::BoxFuture;
use uuid::Uuid;

use super::schema::run_endings;
use super::{Conn, StoreError};
use crate::domain::refold::RunEnd;

/// `pg_advisory_xact_lock(int, int)` keys: "sc" and the endings' number. The consumer holds it
/// shared while it records endings and marks occurrences; a rebuild's page holds it exclusively
/// while it rewrites occurrences. Without it an ending recorded while a page rewrites the same
/// occurrence could miss both the old row (deleted) and the new one (not yet committed).
const LOCK: &str = "29539, 1";

/// Taken by the consumer before it records endings; cheap unless a rebuild's page holds it.
pub async fn hold_endings_shared(conn: &mut Conn) -> Result<(), StoreError> {
    prepared(diesel::select(sql::<Bool>(&format!(
        "pg_advisory_xact_lock_shared({LOCK}) IS NULL"
    ))))
    .execute(conn)
    .await?;
    Ok(())
}

/// Taken by a rebuild's page before it rewrites occurrences.
pub async fn hold_endings_exclusive(conn: &mut Conn) -> Result<(), StoreError> {
    diesel::select(sql::<Bool>(&format!(
        "pg_advisory_xact_lock({LOCK}) IS NULL"
    )))
    .execute(conn)
    .await?;
    Ok(())
}

/// Records that these tasks ended (those already recorded stay as they are).
pub async fn record_endings(conn: &mut Conn, task_ids: &[Uuid]) -> Result<(), StoreError> {
    let rows: Vec<_> = task_ids
        .iter()
        .map(|id| run_endings::task_id.eq(*id))
        .collect();
    diesel::insert_into(run_endings::table)
        .values(rows)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// Records that svc-tasks refused this task's trigger, for `reason`.
pub async fn record_refusal(
    conn: &mut Conn,
    task_id: Uuid,
    reason: &str,
) -> Result<(), StoreError> {
    diesel::insert_into(run_endings::table)
        .values((
            run_endings::task_id.eq(task_id),
            run_endings::refused.eq(reason),
        ))
        .on_conflict(run_endings::task_id)
        .do_update()
        .set(run_endings::refused.eq(excluded(run_endings::refused)))
        .execute(conn)
        .await?;
    Ok(())
}

/// How those of these tasks that ended, ended.
pub async fn run_endings(
    conn: &mut Conn,
    task_ids: &[Uuid],
) -> Result<HashMap<Uuid, RunEnd>, StoreError> {
    let mut endings = HashMap::new();
    for chunk in task_ids.chunks(5_000) {
        let rows: Vec<(Uuid, Option<String>)> = run_endings::table
            .filter(run_endings::task_id.eq_any(chunk))
            .select((run_endings::task_id, run_endings::refused))
            .load(conn)
            .await?;
        endings.extend(
            rows.into_iter().map(|(task, refused)| {
                (task, refused.map(RunEnd::Refused).unwrap_or(RunEnd::Ended))
            }),
        );
    }
    Ok(endings)
}

/// Retention: deletes up to `limit` endings recorded before `cut_off` (their occurrences,
/// decided before them, go by the same retention); returns how many.
pub fn delete_endings_before(
    conn: &mut Conn,
    cut_off: DateTime<Utc>,
    limit: i64,
) -> BoxFuture<'_, Result<usize, diesel::result::Error>> {
    Box::pin(async move {
        diesel::sql_query(
            "DELETE FROM run_endings WHERE task_id IN ( \
               SELECT task_id FROM run_endings WHERE recorded_at < $1 LIMIT $2)",
        )
        .bind::<Timestamptz, _>(cut_off)
        .bind::<BigInt, _>(limit)
        .execute(conn)
        .await
    })
}
