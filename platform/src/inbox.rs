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
