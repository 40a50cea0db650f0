//! The outbox append: the events a transaction announces join the service's log, as the last
//! statement of that transaction (`service::outgoing` says why last).

use taskflow_platform::headers::TraceContext;
use taskflow_schemas::Event;

use super::{Conn, StoreError};

/// Rows per statement, well under PostgreSQL's bind parameter limit (a firer pass may decide
/// thousands of instants).
const CHUNK: usize = 1_000;

pub async fn append_events(
    conn: &mut Conn,
    events: &[(Event, TraceContext)],
) -> Result<(), StoreError> {
    for chunk in events.chunks(CHUNK) {
        taskflow_platform::outbox::enqueue_all(conn, chunk).await?;
    }
    Ok(())
}
