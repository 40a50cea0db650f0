//! The transactional outbox every service shares: events are written to an `outbox` table in
//! the same transaction as the change they describe, and a relay publishes them to Kafka,
//! marking each row after the broker acknowledged it. A crash in between re-publishes the same
//! event (same event id) on the next pass; consumers drop the copy. Nothing committed is skipped.
//!
//! Each service's migrations create the table:
//! ```sql
//! CREATE TABLE outbox (
//!     id bigserial PRIMARY KEY, event_id uuid NOT NULL UNIQUE, event_type text NOT NULL,
//!     body jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), published_at timestamptz,
//!     -- set for dead letters: the topic to park the event on instead of its stream, and why
//!     destination text, reason text);
//! CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use diesel::dsl::{now, sql};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double};
use diesel_async::pooled_connection::deadpool::PoolError;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use taskflow_schemas::{Event, EventKind};
use tokio::sync::Notify;

use crate::db::DbPool;
use crate::producer::EventProducer;

diesel::table! {
    outbox (id) {
        id -> Int8,
        event_id -> Uuid,
        event_type -> Text,
        body -> Jsonb,
        created_at -> Timestamptz,
        published_at -> Nullable<Timestamptz>,
        destination -> Nullable<Text>,
        reason -> Nullable<Text>,
    }
}

pub const BATCH: i64 = 500;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("database error: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("no database connection: {0}")]
    Pool(#[from] PoolError),
    #[error("event cannot be stored as JSON: {0}")]
    Body(#[from] serde_json::Error),
    #[error("outbox row {id} is unreadable: {reason}")]
    Corrupt { id: i64, reason: String },
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox, check_for_backend(diesel::pg::Pg))]
pub struct OutboxRow {
    pub id: i64,
    pub event_id: uuid::Uuid,
    pub event_type: String,
    pub body: serde_json::Value,
    pub destination: Option<String>,
    pub reason: Option<String>,
}

impl OutboxRow {
    pub fn to_event(&self) -> Result<Event, OutboxError> {
        let corrupt = |reason: String| OutboxError::Corrupt {
            id: self.id,
            reason,
        };
        let kind = EventKind::from_name(&self.event_type)
            .ok_or_else(|| corrupt(format!("unknown event type {}", self.event_type)))?;
        Event::from_json(kind, self.body.clone()).map_err(|e| corrupt(e.to_string()))
    }
}

/// Adds `event` to the outbox of the caller's transaction.
pub async fn enqueue(conn: &mut AsyncPgConnection, event: &Event) -> Result<(), OutboxError> {
    diesel::insert_into(outbox::table)
        .values((
            outbox::event_id.eq(event.meta().event_id),
            outbox::event_type.eq(event.kind().name()),
            outbox::body.eq(event.to_json()?),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Adds a dead letter to the outbox of the caller's transaction: `event` is parked on
/// `topic` with `reason` once the transaction commits.
pub async fn enqueue_dead_letter(
    conn: &mut AsyncPgConnection,
    event: &Event,
    topic: &str,
    reason: &str,
) -> Result<(), OutboxError> {
    diesel::insert_into(outbox::table)
        .values((
            // A fresh row id; the parked event keeps its own event_id inside the body.
            outbox::event_id.eq(uuid::Uuid::now_v7()),
            outbox::event_type.eq(event.kind().name()),
            outbox::body.eq(event.to_json()?),
            outbox::destination.eq(topic),
            outbox::reason.eq(reason),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Oldest unpublished rows, locked so that other relays skip them.
pub async fn claim_unpublished(
    conn: &mut AsyncPgConnection,
    limit: i64,
) -> Result<Vec<OutboxRow>, OutboxError> {
    Ok(outbox::table
        .filter(outbox::published_at.is_null())
        .order(outbox::id.asc())
        .limit(limit)
        .select(OutboxRow::as_select())
        .for_update()
        .skip_locked()
        .load(conn)
        .await?)
}

pub async fn mark_published(conn: &mut AsyncPgConnection, ids: &[i64]) -> Result<(), OutboxError> {
    diesel::update(outbox::table.filter(outbox::id.eq_any(ids)))
        .set(outbox::published_at.eq(now))
        .execute(conn)
        .await?;
    Ok(())
}

/// Unpublished rows and the age of the oldest, in seconds.
pub async fn backlog(conn: &mut AsyncPgConnection) -> Result<(i64, f64), OutboxError> {
    Ok(outbox::table
        .filter(outbox::published_at.is_null())
        .select((
            sql::<BigInt>("count(*)"),
            sql::<Double>("COALESCE(EXTRACT(EPOCH FROM now() - min(created_at))::float8, 0)"),
        ))
        .first(conn)
        .await?)
}

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
    pub async fn pass(&self) -> Result<usize, OutboxError> {
        let mut conn = self.db.get().await?;
        let producer = self.producer.clone();
        conn.transaction::<_, OutboxError, _>(async move |conn| {
            let rows = claim_unpublished(conn, BATCH).await?;
            let sent = publish(&producer, &rows).await;
            mark_published(conn, &sent).await?;
            Ok(sent.len())
        })
        .await
    }
}

/// Sends `rows`; returns the ids the broker acknowledged. Rows that fail stay unpublished.
pub async fn publish(producer: &EventProducer, rows: &[OutboxRow]) -> Vec<i64> {
    let mut events = Vec::with_capacity(rows.len());
    let mut ids = Vec::with_capacity(rows.len());
    let mut parked = Vec::new();
    for row in rows {
        match row.to_event() {
            Ok(event) if row.destination.is_some() => {
                let destination = row.destination.as_deref().unwrap_or_default();
                let reason = row.reason.as_deref().unwrap_or("dead-lettered");
                match producer
                    .publish_dead_letter(destination, &event, reason)
                    .await
                {
                    Ok(_) => parked.push(row.id),
                    Err(error) => {
                        tracing::warn!(%error, outbox_id = row.id, "dead letter not parked, will retry")
                    }
                }
            }
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
        .chain(parked)
        .collect()
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
