//! What the queue looks like right now, for `/metrics` (read when scraped).

use diesel::dsl::{count_star, min, now};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::executions;
use super::{Conn, StoreError};

/// Executions not ended, by state (`queued`, `running`).
pub async fn depth_by_state(conn: &mut Conn) -> Result<Vec<(String, i64)>, StoreError> {
    executions::table
        .filter(executions::state.eq_any(["queued", "running"]))
        .group_by(executions::state)
        .select((executions::state, count_star()))
        .load(conn)
        .await
}

/// Seconds since the oldest queued execution fell due (0 when none is due).
pub async fn oldest_ready_age(conn: &mut Conn) -> Result<f64, StoreError> {
    let oldest: Option<chrono::DateTime<chrono::Utc>> = executions::table
        .filter(executions::state.eq("queued"))
        .filter(executions::due_at.le(now))
        .select(min(executions::due_at))
        .first(conn)
        .await?;
    Ok(oldest.map_or(0.0, |due| {
        ((chrono::Utc::now() - due).num_milliseconds().max(0) as f64) / 1_000.0
    }))
}
