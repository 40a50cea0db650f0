//! Sending one batch of claimed rows, and the rule that keeps each key in order: a key's rows
//! after its first failure are not marked, so they go again, after it. Dead letters ride the
//! same batch to their own topics.

use std::collections::HashSet;

use diesel_async::AsyncPgConnection;

use super::error::OutboxError;
use super::store::claim_unpublished;
use super::table::OutboxRow;
use crate::dead_letter::park_event;
use crate::producer::EventProducer;

/// Most rows one pass claims and publishes.
pub const BATCH: i64 = 500;

/// Sends `rows`; returns the ids to mark published: per key, the acknowledged rows before the
/// key's first failure. Rows that fail (and their key's later rows) stay unpublished and are
/// sent again, in order, by a later pass.
pub async fn publish(producer: &EventProducer, rows: &[OutboxRow]) -> Vec<i64> {
    let mut events = Vec::with_capacity(rows.len());
    let mut ids = Vec::with_capacity(rows.len());
    let mut parked = Vec::new();
    for row in rows {
        match row.to_event() {
            Ok(event) if row.destination.is_some() => {
                let destination = row.destination.as_deref().unwrap_or_default();
                let reason = row.reason.as_deref().unwrap_or("dead-lettered");
                match park_event(producer, destination, &event, reason, &row.trace()).await {
                    Ok(_) => parked.push(row.id),
                    Err(error) => {
                        tracing::warn!(%error, outbox_id = row.id, "dead letter not parked, will retry")
                    }
                }
            }
            Ok(event) => {
                events.push((event, row.trace()));
                ids.push(row.id);
            }
            Err(error) => {
                tracing::error!(%error, outbox_id = row.id, "unreadable outbox row left in place")
            }
        }
    }
    let results = producer.publish_all_traced(&events).await;
    let mut failed_keys = HashSet::new();
    let mut marked = Vec::with_capacity(ids.len() + parked.len());
    for ((id, (event, _)), result) in ids.into_iter().zip(&events).zip(results) {
        let key = event.key();
        if failed_keys.contains(&key) {
            continue;
        }
        match result {
            Ok(_) => marked.push(id),
            Err(error) => {
                tracing::warn!(%error, outbox_id = id, "publish failed, will retry in order");
                failed_keys.insert(key);
            }
        }
    }
    marked.extend(parked);
    marked
}

/// Claims and publishes a batch but never marks it: what a relay that crashed right after the
/// broker's acknowledgement leaves behind. For fault-injection tests.
pub async fn publish_without_marking(
    conn: &mut AsyncPgConnection,
    producer: &EventProducer,
) -> Result<usize, OutboxError> {
    let rows = claim_unpublished(conn, BATCH).await?;
    Ok(publish(producer, &rows).await.len())
}
