//! What a projection rebuild reads besides the log and the projection themselves: how far the
//! log reaches when a job starts, how many task streams that is, and the projection emptied
//! (for tests). The job itself (its row, its locks) is the platform's
//! (`taskflow_platform::rebuild`, table `projection_rebuilds`).

use super::prelude::*;

/// The highest task stream id: every stream that exists now is at or below it. (Submitted
/// tasks' ids are UUIDv7, in creation order; a scheduled task's id is derived from its schedule
/// and instant, anywhere in the order. A stream created later below it is refolded too, which is
/// harmless; one above it is projected live.)
pub async fn newest_stream_id(conn: &mut Conn) -> Result<Option<Uuid>, StoreError> {
    Ok(task_events::table
        .filter(task_events::version.eq(1))
        .select(task_events::stream_id)
        .order(task_events::stream_id.desc())
        .first(conn)
        .await
        .optional()?)
}

/// Task streams up to `upto`.
pub async fn count_streams(conn: &mut Conn, upto: Uuid) -> Result<i64, StoreError> {
    Ok(task_events::table
        .filter(task_events::version.eq(1))
        .filter(task_events::stream_id.le(upto))
        .count()
        .get_result(conn)
        .await?)
}

/// Deletes every task row (and so zeroes the active-task counters): the projection as if nothing
/// had been projected, so a rebuild has to restore all of it. Tests only; the log is untouched.
pub async fn wipe_tasks(conn: &mut Conn) -> Result<(), StoreError> {
    diesel::delete(tasks::table).execute(conn).await?;
    super::recount_active_tasks(conn).await
}
