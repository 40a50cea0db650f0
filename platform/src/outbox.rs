//! The transactional outbox every service shares: events are written to an `outbox` table in
//! the same transaction as the change they describe, and a relay publishes them to Kafka,
//! marking each row after the broker acknowledged it. A crash in between re-publishes the same
//! event (same event id) on the next pass; consumers drop the copy. Nothing committed is skipped.
//!
//! The table is the platform's own migration (`platform/migrations`), applied before a
//! service's migrations.
//!
//! ## Order per key, with any number of instances
//! Every instance of a service runs a relay over the one outbox table. If two relays published
//! at once, one task's rows could reach Kafka through two producers in either order. So a pass
//! is exclusive: it runs in a transaction that first takes a transaction-scoped advisory lock
//! (`pg_try_advisory_xact_lock`); a relay that does not get it does nothing this time. Inside a
//! pass one producer sends the oldest unpublished rows in id order (for one key, id order is
//! commit order: every writer of a task's events holds that task's row lock), waits for every
//! acknowledgement, and marks only each key's leading run of acknowledged rows: once a row of a
//! key failed, that key's later rows stay unpublished even if they were acknowledged, and are
//! sent again after it. The lock ends with the transaction, so a relay that crashes or whose
//! connection dies hands over at once; `idle_in_transaction_session_timeout` makes PostgreSQL
//! end the pass of a relay that stalls (SIGSTOP) so that another can take over. Whoever
//! publishes always starts from the oldest unmarked row, so the *first* copy of every event
//! reaches the topic in commit order; later copies are duplicates that consumers drop by event id.
//!
//! Why this design rather than relays owning key ranges: passes are short (one batch, bounded
//! by the producer's delivery timeout) and pipelined inside, so a single publisher at a time
//! costs little, needs no membership protocol, and stays correct with 1 or n instances.
//!
//! Relays wake on `LISTEN taskflow_outbox` (a statement trigger notifies on insert, delivered
//! at commit) instead of polling; the idle poll is a safety net only.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use diesel::dsl::{now, sql};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Double};
use diesel_async::pooled_connection::deadpool::PoolError;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use taskflow_schemas::{Event, EventKind};
use tokio::sync::Notify;

use crate::db::DbPool;
use crate::headers::{self, TraceContext};
use crate::listen::Listener;
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
        traceparent -> Nullable<Text>,
        tracestate -> Nullable<Text>,
    }
}

pub const BATCH: i64 = 500;

/// A pass at least this large means load is high: the relay lingers before the next.
const BUSY_PASS: usize = 16;
const BUSY_LINGER: Duration = Duration::from_millis(10);

/// How long published rows stay in the outbox (history for operators and tests), and how often
/// a relay clears older ones.
pub const KEEP_PUBLISHED: Duration = Duration::from_secs(3600);
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The channel the outbox trigger notifies (platform/migrations).
pub const WAKE_CHANNEL: &str = "taskflow_outbox";

/// Any fixed number; every relay of one database agrees on it (one pass at a time).
const RELAY_LOCK: i64 = 0x6f75_7462_6f78_0001;

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

impl OutboxError {
    /// Whether the database cannot serve for now ([`crate::db::is_transient`]); an event that
    /// cannot be stored and an unreadable row are not.
    pub fn is_transient(&self) -> bool {
        match self {
            OutboxError::Db(e) => crate::db::is_transient(e),
            OutboxError::Pool(e) => crate::db::is_transient_pool(e),
            OutboxError::Body(_) | OutboxError::Corrupt { .. } => false,
        }
    }
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
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
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

    fn trace(&self) -> TraceContext {
        TraceContext {
            traceparent: self.traceparent.clone(),
            tracestate: self.tracestate.clone(),
        }
    }
}

/// Adds `event` to the outbox of the caller's transaction, with the trace context of the
/// current span (the request, consumed record or attempt that caused it).
pub async fn enqueue(conn: &mut AsyncPgConnection, event: &Event) -> Result<(), OutboxError> {
    let trace = headers::current_trace();
    diesel::insert_into(outbox::table)
        .values((
            outbox::event_id.eq(event.meta().event_id),
            outbox::event_type.eq(event.kind().name()),
            outbox::body.eq(event.to_json()?),
            outbox::traceparent.eq(trace.traceparent),
            outbox::tracestate.eq(trace.tracestate),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Adds many events to the outbox of the caller's transaction in one statement, each with the
/// trace context it belongs to. Row ids follow the slice's order.
pub async fn enqueue_all(
    conn: &mut AsyncPgConnection,
    events: &[(Event, TraceContext)],
) -> Result<(), OutboxError> {
    if events.is_empty() {
        return Ok(());
    }
    let mut rows = Vec::with_capacity(events.len());
    for (event, trace) in events {
        rows.push((
            outbox::event_id.eq(event.meta().event_id),
            outbox::event_type.eq(event.kind().name()),
            outbox::body.eq(event.to_json()?),
            outbox::traceparent.eq(trace.traceparent.clone()),
            outbox::tracestate.eq(trace.tracestate.clone()),
        ));
    }
    diesel::insert_into(outbox::table)
        .values(rows)
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
    let trace = headers::current_trace();
    diesel::insert_into(outbox::table)
        .values((
            // A fresh row id; the parked event keeps its own event_id inside the body.
            outbox::event_id.eq(uuid::Uuid::now_v7()),
            outbox::event_type.eq(event.kind().name()),
            outbox::body.eq(event.to_json()?),
            outbox::destination.eq(topic),
            outbox::reason.eq(reason),
            outbox::traceparent.eq(trace.traceparent),
            outbox::tracestate.eq(trace.tracestate),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Takes this database's relay turn for the caller's transaction; `false` when another relay
/// is in a pass. Also bounds how long a stalled holder keeps it.
pub async fn take_relay_turn(
    conn: &mut AsyncPgConnection,
    stall_limit: Duration,
) -> Result<bool, OutboxError> {
    diesel::sql_query(format!(
        "SET LOCAL idle_in_transaction_session_timeout = {}",
        stall_limit.as_millis().max(1000)
    ))
    .execute(conn)
    .await?;
    Ok(diesel::select(sql::<Bool>(&format!(
        "pg_try_advisory_xact_lock({RELAY_LOCK})"
    )))
    .get_result(conn)
    .await?)
}

/// Oldest unpublished rows, in commit order per key.
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
        .load(conn)
        .await?)
}

pub async fn mark_published(conn: &mut AsyncPgConnection, ids: &[i64]) -> Result<(), OutboxError> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::update(outbox::table.filter(outbox::id.eq_any(ids)))
        .set(outbox::published_at.eq(now))
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes up to `limit` rows published longer than `older_than` ago; returns how many. A
/// published row is only history (forensics, tests): the relay never reads it again.
pub async fn prune_published(
    conn: &mut AsyncPgConnection,
    older_than: Duration,
    limit: i64,
) -> Result<usize, OutboxError> {
    // Judged by the database's clock, like the published_at it compares with.
    let age_ms = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
    let oldest: Vec<i64> = outbox::table
        .filter(
            sql::<Bool>("published_at < now() - ")
                .bind::<BigInt, _>(age_ms)
                .sql(" * interval '1 millisecond'"),
        )
        .select(outbox::id)
        .order(outbox::id)
        .limit(limit)
        .load(conn)
        .await?;
    if oldest.is_empty() {
        return Ok(0);
    }
    Ok(
        diesel::delete(outbox::table.filter(outbox::id.eq_any(&oldest)))
            .execute(conn)
            .await?,
    )
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

/// What one pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// This relay had the turn and marked this many rows published.
    Published(usize),
    /// Another relay was in a pass; this one did nothing.
    NotMyTurn,
}

#[derive(Clone)]
pub struct Relay {
    pub db: DbPool,
    pub producer: EventProducer,
    /// Wakes the relay after a commit in this process (notifications cover the others).
    pub ready: Arc<Notify>,
    /// Longest wait between passes when nothing wakes the relay: the safety net under LISTEN,
    /// and how soon a relay takes over from one that stopped.
    pub idle_poll: Duration,
}

impl Relay {
    /// Runs passes until `shutdown` resolves.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut failures = 0u32;
        let mut listener = Listener::new(self.db.clone(), WAKE_CHANNEL);
        let mut pruned_at = tokio::time::Instant::now();
        // In a streak of large passes the relay runs again anyway, so it stops listening: each
        // commit that notifies (every outbox insert of this database) would otherwise cost the
        // listening connection a transaction of its own.
        let mut busy = false;
        loop {
            if !busy {
                listener.ensure().await;
            }
            if pruned_at.elapsed() >= PRUNE_EVERY {
                pruned_at = tokio::time::Instant::now();
                self.prune().await;
            }
            let pass = match self.run_pass().await {
                Ok(pass) => {
                    failures = 0;
                    pass
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(%error, failures, "outbox relay pass failed");
                    Pass::Published(0)
                }
            };
            let full = pass == Pass::Published(BATCH as usize);
            // Under load (a large pass), wait a moment so that the next pass carries more rows
            // per transaction and per produce request; a lone row is never held back.
            let large = matches!(pass, Pass::Published(n) if n >= BUSY_PASS);
            if full || large {
                if !busy {
                    busy = true;
                    listener.pause().await;
                }
                if !full {
                    tokio::time::sleep(BUSY_LINGER).await;
                }
                continue;
            }
            if busy {
                // The streak is over: listen again (top of the loop), then look once more for
                // rows committed while nobody listened, before waiting.
                busy = false;
                continue;
            }
            let wait = if failures > 0 {
                crate::backoff::step(Duration::from_millis(100), Duration::from_secs(5), failures)
            } else {
                self.idle_poll
            };
            // Another relay has the turn: wake on the poll only, so that n instances do not all
            // answer every notification; the holder publishes what they would have.
            let listen = pass != Pass::NotMyTurn && failures == 0;
            tokio::select! {
                () = &mut shutdown => return,
                () = self.ready.notified() => {}
                _ = listener.notified(), if listen => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn prune(&self) {
        let Ok(mut conn) = self.db.get().await else {
            return;
        };
        match prune_published(&mut conn, KEEP_PUBLISHED, 10_000).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(deleted = n, "old published outbox rows deleted"),
            Err(error) => tracing::warn!(%error, "pruning the outbox failed"),
        }
    }

    async fn run_pass(&self) -> Result<Pass, OutboxError> {
        let span = tracing::debug_span!("outbox relay pass");
        tracing::Instrument::instrument(self.pass_with_turn(), span).await
    }

    /// Publishes up to one batch; returns how many rows were marked published (0 when another
    /// relay had the turn).
    pub async fn pass(&self) -> Result<usize, OutboxError> {
        Ok(match self.pass_with_turn().await? {
            Pass::Published(n) => n,
            Pass::NotMyTurn => 0,
        })
    }

    pub async fn pass_with_turn(&self) -> Result<Pass, OutboxError> {
        let mut conn = self.db.get().await?;
        let producer = self.producer.clone();
        let stall_limit = producer.delivery_timeout() * 2;
        conn.transaction::<_, OutboxError, _>(async move |conn| {
            if !take_relay_turn(conn, stall_limit).await? {
                return Ok(Pass::NotMyTurn);
            }
            let rows = claim_unpublished(conn, BATCH).await?;
            let sent = publish(&producer, &rows).await;
            mark_published(conn, &sent).await?;
            Ok(Pass::Published(sent.len()))
        })
        .await
    }
}

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
                match crate::dead_letter::park_event(
                    producer,
                    destination,
                    &event,
                    reason,
                    &row.trace(),
                )
                .await
                {
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
