//! The relay loop: when to run a pass (woken by LISTEN or by this process, lingering under load,
//! backing off on failure) and the exclusive turn each pass runs in. Why passes are exclusive is
//! in the module documentation of `outbox`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use diesel_async::AsyncConnection;
use tokio::sync::Notify;

use super::error::OutboxError;
use super::publish::{BATCH, publish};
use super::store::{claim_unpublished, mark_published, settled_up_to, take_relay_turn};
use crate::db::DbPool;
use crate::listen::Listener;
use crate::producer::EventProducer;

/// A pass at least this large means load is high: the relay lingers before the next.
const BUSY_PASS: usize = 16;
const BUSY_LINGER: Duration = Duration::from_millis(10);

/// The channel the outbox trigger notifies (platform/migrations).
pub const WAKE_CHANNEL: &str = "taskflow_outbox";

/// What one pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// This relay had the turn and published this many rows.
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
        // In a streak of large passes the relay runs again anyway, so it stops listening: each
        // commit that notifies (every outbox insert of this database) would otherwise cost the
        // listening connection a transaction of its own.
        let mut busy = false;
        loop {
            if !busy {
                listener.ensure().await;
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

    async fn run_pass(&self) -> Result<Pass, OutboxError> {
        let span = tracing::debug_span!("outbox relay pass");
        tracing::Instrument::instrument(self.pass_with_turn(), span).await
    }

    /// Publishes up to one batch; returns how many rows it published (0 when another relay had
    /// the turn).
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
        // Before the pass's transaction: it holds the writers' lock for its own instant only.
        let settled = settled_up_to(&mut conn).await?;
        conn.transaction::<_, OutboxError, _>(async move |conn| {
            if !take_relay_turn(conn, stall_limit).await? {
                return Ok(Pass::NotMyTurn);
            }
            let rows = claim_unpublished(conn, settled).await?;
            let sent = publish(&producer, &rows).await;
            // A short read holds every row to publish up to `settled`: once all are sent, the
            // position steps over the internal rows among and after them too. (A pass that read
            // nothing records nothing, as before: internal rows alone are stepped over by the
            // next pass that publishes.)
            let complete =
                !rows.is_empty() && rows.len() < BATCH as usize && sent.rows == rows.len();
            let up_to = if complete { Some(settled) } else { sent.up_to };
            if let Some(up_to) = up_to {
                mark_published(conn, up_to).await?;
            }
            Ok(Pass::Published(sent.rows))
        })
        .await
    }
}
