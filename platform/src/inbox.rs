//! The inbox: a consumer records each event id it applies in the same transaction as the
//! effect, so a redelivered event (after a crash, a rebalance, a relay's re-send) changes
//! nothing. The table is a platform migration (`consumed_events`).

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

diesel::table! {
    consumed_events (event_id) {
        event_id -> Uuid,
        consumed_at -> Timestamptz,
    }
}

/// Records `event_id` as consumed in the caller's transaction; `false` when it already was
/// (then the caller must not apply the event again).
pub async fn record(
    conn: &mut AsyncPgConnection,
    event_id: Uuid,
) -> Result<bool, diesel::result::Error> {
    let inserted = diesel::insert_into(consumed_events::table)
        .values(consumed_events::event_id.eq(event_id))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// Records many event ids in one statement; returns the ids that were new (the events to
/// apply). Ids recorded before — or twice in `event_ids` — come back once at most.
pub async fn record_all(
    conn: &mut AsyncPgConnection,
    event_ids: &[Uuid],
) -> Result<std::collections::HashSet<Uuid>, diesel::result::Error> {
    if event_ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<_> = event_ids
        .iter()
        .map(|id| consumed_events::event_id.eq(*id))
        .collect();
    let new: Vec<Uuid> = diesel::insert_into(consumed_events::table)
        .values(rows)
        .on_conflict_do_nothing()
        .returning(consumed_events::event_id)
        .get_results(conn)
        .await?;
    Ok(new.into_iter().collect())
}

/// Retention of the inbox: ids consumed before `cut_off` (up to `limit`) go. An id only needs
/// keeping while a copy of its event can still arrive — a redelivery after a crash, a relay's
/// re-send — which is minutes, not days.
pub fn delete_consumed_before(
    conn: &mut AsyncPgConnection,
    cut_off: chrono::DateTime<chrono::Utc>,
    limit: i64,
) -> futures::future::BoxFuture<'_, Result<usize, diesel::result::Error>> {
    Box::pin(async move {
        let old: Vec<Uuid> = consumed_events::table
            .filter(consumed_events::consumed_at.lt(cut_off))
            .select(consumed_events::event_id)
            .limit(limit)
            .load(conn)
            .await?;
        if old.is_empty() {
            return Ok(0);
        }
        diesel::delete(consumed_events::table.filter(consumed_events::event_id.eq_any(&old)))
            .execute(conn)
            .await
    })
}

/// How long consumed event ids are kept (every service reads it).
pub const RETENTION: crate::config::Setting = crate::config::Setting::or(
    "TASKFLOW_INBOX_RETENTION_HOURS",
    "168",
    "how long the ids of consumed events are kept for dedupe (7 days)",
);

/// The inbox's cleaner, keeping ids for `keep`.
pub fn cleaner(keep: std::time::Duration) -> crate::maintenance::Cleaner {
    crate::maintenance::Cleaner {
        table: "consumed_events",
        keep,
        delete: delete_consumed_before,
    }
}
