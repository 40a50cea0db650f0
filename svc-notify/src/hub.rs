//! Fan-out: one loop per process reads what was committed and hands it to every client of the
//! tenant at once.
//!
//! The database is the source: the ingest's commit fires a NOTIFY (a trigger on notifications;
//! the ingest's own for a revoked key), this loop wakes, reads each subscribed tenant's
//! notifications after the last one it passed on, and sends them on the tenant's broadcast
//! channel in sequence order. Every instance does the same, so a client
//! is served whichever instance's consumer wrote the event. A client subscribes before it reads
//! history, then drops broadcast items it already replayed (by sequence number): nothing
//! committed between its replay query and its subscription is lost or told twice. The channel
//! is bounded; a client that falls behind it is cut off and resumes from history.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;
use taskflow_platform::db::DbPool;
use taskflow_platform::keys::KeyOwner;
use taskflow_platform::listen::Listener;
use taskflow_platform::runtime::StopSignal;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::store::{self, NotificationRow, StoreError};

/// What a tenant's subscribers receive.
#[derive(Debug)]
pub enum FeedItem {
    Told(Arc<Told>),
    /// The key (and every stream token exchanged for it) stops working now.
    KeyRevoked(Uuid),
}

/// A notification rendered once for every client: as JSON (WebSocket, history) and as an SSE
/// event (`id:` is the sequence number).
#[derive(Debug)]
pub struct Told {
    pub row: NotificationRow,
    pub json: Arc<str>,
    pub sse: bytes::Bytes,
}

impl Told {
    pub fn new(row: NotificationRow) -> Self {
        let json = render(&row);
        let sse = format!("id: {}\nevent: task\ndata: {json}\n\n", row.seq).into();
        Self {
            row,
            json: json.into(),
            sse,
        }
    }
}

/// The JSON clients get for a notification: its fields plus `"kind": "task"`.
pub fn render(row: &NotificationRow) -> String {
    #[derive(Serialize)]
    struct Wire<'a> {
        kind: &'static str,
        #[serde(flatten)]
        row: &'a NotificationRow,
    }
    serde_json::to_string(&Wire { kind: "task", row }).unwrap_or_default()
}

pub type Item = Arc<FeedItem>;

struct Feed {
    tx: broadcast::Sender<Item>,
    /// The last sequence number sent on `tx`.
    cursor: i64,
}

#[derive(Clone)]
pub struct Hub {
    pool: DbPool,
    feeds: Arc<Mutex<HashMap<Uuid, Feed>>>,
    capacity: usize,
    /// Revocations already passed on, with when (forgotten after a few minutes).
    announced: Arc<Mutex<HashMap<Uuid, Instant>>>,
}

/// Notifications read per query when catching up.
const PAGE: i64 = 2_000;
/// How far back each pass looks for revocations (covers commits that took their time).
const REVOCATION_WINDOW_SECS: i64 = 120;
/// With LISTEN working, a pass also runs this often anyway; without it, much more often.
const SAFETY_POLL: Duration = Duration::from_secs(5);
const DISCONNECTED_POLL: Duration = Duration::from_millis(500);

impl Hub {
    /// `capacity`: items a client may fall behind before it is cut off.
    pub fn new(pool: DbPool, capacity: usize) -> Self {
        Self {
            pool,
            feeds: Arc::default(),
            capacity,
            announced: Arc::default(),
        }
    }

    fn feeds(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Feed>> {
        self.feeds.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Subscribes to the tenant's feed: everything committed after this call is received.
    pub async fn subscribe(
        &self,
        tenant_id: Uuid,
    ) -> Result<broadcast::Receiver<Item>, StoreError> {
        if let Some(feed) = self.feeds().get(&tenant_id) {
            return Ok(feed.tx.subscribe());
        }
        let mut conn = self.pool.get().await?;
        let (last, _) = store::cursor_of(&mut conn, tenant_id).await?;
        let capacity = self.capacity;
        Ok(self
            .feeds()
            .entry(tenant_id)
            .or_insert_with(|| Feed {
                tx: broadcast::channel(capacity).0,
                cursor: last,
            })
            .tx
            .subscribe())
    }

    /// Clients connected now, over all tenants.
    pub fn clients(&self) -> usize {
        self.feeds().values().map(|f| f.tx.receiver_count()).sum()
    }

    pub async fn run(self, mut stop: StopSignal) {
        let mut listener = Listener::new(self.pool.clone(), store::FEED_CHANNEL);
        loop {
            let listening = listener.ensure().await;
            if let Err(error) = self.pass().await {
                tracing::warn!(%error, "fan-out pass failed; retrying");
            }
            let poll = if listening {
                SAFETY_POLL
            } else {
                DISCONNECTED_POLL
            };
            tokio::select! {
                () = &mut stop => return,
                _ = listener.notified() => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// Passes on everything committed since the last pass.
    pub async fn pass(&self) -> Result<(), StoreError> {
        let mut cursors: Vec<(Uuid, i64)> = {
            let mut feeds = self.feeds();
            feeds.retain(|_, feed| feed.tx.receiver_count() > 0);
            feeds.iter().map(|(t, f)| (*t, f.cursor)).collect()
        };
        if cursors.is_empty() {
            return Ok(());
        }
        let mut conn = self.pool.get().await?;
        loop {
            let rows = store::after_all(&mut conn, &cursors, PAGE).await?;
            let full = rows.len() as i64 == PAGE;
            let mut feeds = self.feeds();
            for row in rows {
                let Some(feed) = feeds.get_mut(&row.tenant_id) else {
                    continue;
                };
                if row.seq <= feed.cursor {
                    continue;
                }
                feed.cursor = row.seq;
                if let Some(c) = cursors.iter_mut().find(|(t, _)| *t == row.tenant_id) {
                    c.1 = row.seq;
                }
                let _ = feed
                    .tx
                    .send(Arc::new(FeedItem::Told(Arc::new(Told::new(row)))));
            }
            if !full {
                break;
            }
        }
        let revoked =
            taskflow_platform::keys::revoked_since(&mut conn, REVOCATION_WINDOW_SECS).await?;
        let mut announced = self
            .announced
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        announced
            .retain(|_, at| at.elapsed() < Duration::from_secs(2 * REVOCATION_WINDOW_SECS as u64));
        let feeds = self.feeds();
        for KeyOwner { key_id, tenant_id } in revoked {
            if announced.insert(key_id, Instant::now()).is_some() {
                continue;
            }
            if let Some(feed) = feeds.get(&tenant_id) {
                let _ = feed.tx.send(Arc::new(FeedItem::KeyRevoked(key_id)));
            }
        }
        Ok(())
    }
}
