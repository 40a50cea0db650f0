//! Sending one batch of rows read after the published position, and the rule that keeps the
//! log in order: the position moves to the end of the leading run of acknowledged rows only;
//! from the first row that failed on, everything goes again, after it, in a later pass. Dead
//! letters ride the same batch to their own topics.

use diesel_async::AsyncPgConnection;

use super::error::OutboxError;
use super::store::{claim_unpublished, settled_up_to};
use super::table::OutboxRow;
use crate::dead_letter::park_event;
use crate::producer::EventProducer;

/// Most rows one pass reads and publishes.
pub const BATCH: i64 = 500;

/// What sending a batch achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sent {
    /// The id of the last row of the leading run of acknowledged rows: the new position.
    pub up_to: Option<i64>,
    /// How many rows that run holds.
    pub rows: usize,
}

/// Sends `rows` (in id order); returns how far they are published. Rows from the first failure
/// on (a broker error, a dead letter not parked, a row this build cannot read, e.g. written by a
/// newer version) stay after the position and are read again by the next pass; any of them
/// acknowledged now arrive twice, and consumers drop the copy by event id.
pub async fn publish(producer: &EventProducer, rows: &[OutboxRow]) -> Sent {
    let mut acked = vec![false; rows.len()];
    let mut events = Vec::with_capacity(rows.len());
    let mut sent_at = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        match row.to_event() {
            Ok(event) if row.destination.is_some() => {
                let destination = row.destination.as_deref().unwrap_or_default();
                let reason = row.reason.as_deref().unwrap_or("dead-lettered");
                match park_event(producer, destination, &event, reason, &row.trace()).await {
                    Ok(_) => acked[i] = true,
                    Err(error) => {
                        tracing::warn!(%error, outbox_id = row.id, "dead letter not parked, will retry");
                        break;
                    }
                }
            }
            Ok(event) => {
                events.push((event, row.trace()));
                sent_at.push(i);
            }
            Err(error) => {
                tracing::error!(%error, outbox_id = row.id, "unreadable outbox row: the relay stops before it");
                break;
            }
        }
    }
    let results = producer.publish_all_traced(&events).await;
    for (i, result) in sent_at.into_iter().zip(results) {
        match result {
            Ok(_) => acked[i] = true,
            Err(error) => {
                tracing::warn!(%error, outbox_id = rows[i].id, "publish failed, will retry in order");
            }
        }
    }
    let run = acked.iter().take_while(|ok| **ok).count();
    Sent {
        up_to: run.checked_sub(1).map(|last| rows[last].id),
        rows: run,
    }
}

/// Reads and publishes a batch but never records the position: what a relay that crashed right
/// after the broker's acknowledgement leaves behind. For fault-injection tests; called inside a
/// transaction, writers wait for that transaction's end (see `settled_up_to`).
pub async fn publish_without_marking(
    conn: &mut AsyncPgConnection,
    producer: &EventProducer,
) -> Result<usize, OutboxError> {
    let settled = settled_up_to(conn).await?;
    let rows = claim_unpublished(conn, settled).await?;
    Ok(publish(producer, &rows).await.rows)
}
