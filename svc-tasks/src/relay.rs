//! The outbox relay: publishes committed events to Kafka and marks them sent once the broker
//! acknowledged them. A crash between the two re-publishes the same event (same event id) on
//! the next pass; consumers drop the copy. Nothing committed is ever skipped.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use diesel_async::AsyncConnection;
use taskflow_platform::EventProducer;
use taskflow_platform::db::DbPool;
use tokio::sync::Notify;

use crate::service::ServiceError;
use crate::store::{self, Conn, OutboxRow};

pub const BATCH: i64 = 500;

#[derive(Clone)]
pub struct Relay {
    pub db: DbPool,
    pub producer: EventProducer,
    pub ready: Arc<Notify>,
    /// Longest wait between passes when nothing wakes the relay (other instances' commits).
    pub idle_poll: Duration,
}

impl Relay {
    /// Runs passes until `shutdown` resolves.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut failures = 0u32;
        loop {
            let published = match self.pass().await {
                Ok(n) => {
                    failures = 0;
                    n
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(%error, failures, "outbox relay pass failed");
                    0
                }
            };
            if published as i64 == BATCH {
                continue;
            }
            let wait = if failures > 0 {
                Duration::from_millis(100 * u64::from(failures.min(50)))
            } else {
                self.idle_poll
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = self.ready.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Publishes up to one batch; returns how many rows were marked published.
    pub async fn pass(&self) -> Result<usize, ServiceError> {
        let mut conn = self.db.get().await?;
        let producer = self.producer.clone();
        conn.transaction::<_, ServiceError, _>(async move |conn| {
            let rows = store::claim_unpublished(conn, BATCH).await?;
            let sent = publish(&producer, &rows).await;
            store::mark_published(conn, &sent).await?;
            Ok(sent.len())
        })
        .await
    }
}

/// Sends `rows`; returns the ids the broker acknowledged. Rows that fail stay unpublished.
pub async fn publish(producer: &EventProducer, rows: &[OutboxRow]) -> Vec<i64> {
    let mut events = Vec::with_capacity(rows.len());
    let mut ids = Vec::with_capacity(rows.len());
    for row in rows {
        match row.to_event() {
            Ok(event) => {
                events.push(event);
                ids.push(row.id);
            }
            Err(error) => {
                tracing::error!(%error, outbox_id = row.id, "unreadable outbox row left in place")
            }
        }
    }
    let results = producer.publish_all(&events).await;
    ids.into_iter()
        .zip(results)
        .filter_map(|(id, result)| match result {
            Ok(_) => Some(id),
            Err(error) => {
                tracing::warn!(%error, outbox_id = id, "publish failed, will retry");
                None
            }
        })
        .collect()
}

/// Claims and publishes a batch but never marks it: what a relay that crashed right after the
/// broker's acknowledgement leaves behind. For fault-injection tests.
pub async fn publish_without_marking(
    conn: &mut Conn,
    producer: &EventProducer,
) -> Result<usize, ServiceError> {
    let rows = store::claim_unpublished(conn, BATCH).await?;
    Ok(publish(producer, &rows).await.len())
}
