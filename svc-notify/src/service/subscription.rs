//! One client's feed, whatever carries it (SSE or WebSocket): replay from history after the
//! client's cursor, then live items from the hub, skipping what was replayed (by sequence
//! number); keep-alives while quiet; an end when the client's task ended, its key was revoked
//! or it fell behind. Where a feed starts (a resume cursor, a resync) is decided in `resume`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use taskflow_platform::db::DbPool;
use tokio::sync::broadcast::{self, error::RecvError};
use uuid::Uuid;

use crate::hub::{FeedItem, Item, Told};
use crate::store::{self, NotificationRow, Overview};

/// Notifications replayed per query.
const REPLAY_PAGE: i64 = 500;

/// Which notifications a client wants.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub task_id: Option<Uuid>,
    pub task_type: Option<String>,
    pub status: Option<String>,
    /// All must match.
    pub labels: Vec<(String, String)>,
}

impl Filter {
    pub fn matches(&self, row: &NotificationRow) -> bool {
        self.task_id.is_none_or(|t| t == row.task_id)
            && self
                .task_type
                .as_deref()
                .is_none_or(|t| row.task_type.as_deref() == Some(t))
            && self.status.as_deref().is_none_or(|s| row.status == s)
            && self.labels.iter().all(|(k, v)| row.has_label(k, v))
    }
}

/// Why a feed ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The one task this feed follows has ended.
    TaskEnded,
    /// The credential's key was revoked.
    Revoked,
    /// The client read too slowly and fell further behind than the buffer holds; it resumes
    /// from history with its last id.
    TooSlow,
    /// Reading history failed (database unavailable); the client retries.
    Unavailable,
}

impl End {
    pub fn as_str(self) -> &'static str {
        match self {
            End::TaskEnded => "task-ended",
            End::Revoked => "key-revoked",
            End::TooSlow => "too-slow",
            End::Unavailable => "unavailable",
        }
    }
}

/// What a carrier writes to the client.
#[derive(Debug, Clone)]
pub enum Frame {
    /// A notification.
    Told(Arc<Told>),
    /// History before the client's cursor was pruned: the tenant's active tasks now, and the
    /// sequence number they are current at.
    Resync(i64, Arc<str>),
    KeepAlive,
    End(End),
}

/// Where a feed starts.
pub enum Start {
    /// After this sequence number (replaying history from there).
    After(i64),
    /// Resync to this snapshot first (the client's cursor was older than retention).
    Resync(Overview),
}

pub struct Subscription {
    pub pool: DbPool,
    pub tenant_id: Uuid,
    pub key_id: Uuid,
    pub filter: Filter,
    pub keepalive: Duration,
    pub rx: broadcast::Receiver<Item>,
    pub start: Start,
}

enum Phase {
    Replay,
    Live,
    Done,
}

struct State {
    sub: Subscription,
    cursor: i64,
    phase: Phase,
    pending: VecDeque<Frame>,
    /// Due when the client was last written to `keepalive` ago: items the filter drops do
    /// not count, so a filtered stream on a busy tenant still gets its keep-alives (and a
    /// client that left is noticed).
    quiet: std::pin::Pin<Box<tokio::time::Sleep>>,
    /// Counts this stream in `taskflow_sse_clients` while it lives.
    _open: OpenStream,
}

struct OpenStream;

impl OpenStream {
    fn new() -> Self {
        taskflow_platform::metrics::SSE_CLIENTS.inc();
        OpenStream
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        taskflow_platform::metrics::SSE_CLIENTS.dec();
    }
}

impl Subscription {
    pub fn into_stream(self) -> impl Stream<Item = Frame> + Send + 'static {
        let mut pending = VecDeque::new();
        let cursor = match &self.start {
            Start::After(after) => *after,
            Start::Resync(overview) => {
                let json = serde_json::json!({
                    "kind": "resync",
                    "seq": overview.seq,
                    "reason": "the history after your cursor was pruned (retention); here is the current state",
                    "counts": overview.counts,
                    "tasks": overview.tasks,
                });
                pending.push_back(Frame::Resync(overview.seq, json.to_string().into()));
                overview.seq
            }
        };
        let quiet = Box::pin(tokio::time::sleep(self.keepalive));
        let state = State {
            sub: self,
            cursor,
            phase: Phase::Replay,
            pending,
            quiet,
            _open: OpenStream::new(),
        };
        futures::stream::unfold(state, |mut state| async move {
            let frame = state.next().await?;
            Some((frame, state))
        })
    }
}

impl State {
    async fn next(&mut self) -> Option<Frame> {
        let frame = self.next_frame().await;
        let deadline = tokio::time::Instant::now() + self.sub.keepalive;
        self.quiet.as_mut().reset(deadline);
        frame
    }

    async fn next_frame(&mut self) -> Option<Frame> {
        loop {
            if let Some(frame) = self.pending.pop_front() {
                if matches!(frame, Frame::End(_)) {
                    self.phase = Phase::Done;
                }
                return Some(frame);
            }
            match self.phase {
                Phase::Done => return None,
                Phase::Replay => self.replay_page().await,
                Phase::Live => {
                    let received = tokio::select! {
                        received = self.sub.rx.recv() => received,
                        () = self.quiet.as_mut() => return Some(Frame::KeepAlive),
                    };
                    match received {
                        Ok(item) => {
                            self.take(&item);
                            // Whatever else is queued goes out in the same write.
                            while self.pending.len() < 64 {
                                match self.sub.rx.try_recv() {
                                    Ok(item) => self.take(&item),
                                    Err(broadcast::error::TryRecvError::Lagged(_)) => {
                                        self.pending.push_back(Frame::End(End::TooSlow));
                                        break;
                                    }
                                    Err(_) => break,
                                }
                            }
                        }
                        Err(RecvError::Lagged(_)) => {
                            self.pending.push_back(Frame::End(End::TooSlow))
                        }
                        Err(RecvError::Closed) => return None,
                    }
                }
            }
        }
    }

    async fn replay_page(&mut self) {
        let sub = &self.sub;
        let page = async {
            let mut conn = sub.pool.get().await?;
            let rows = store::history(
                &mut conn,
                sub.tenant_id,
                self.cursor,
                REPLAY_PAGE,
                sub.filter.task_id,
            )
            .await?;
            // A task feed whose task ended before this page: nothing more will come.
            let ended = match (sub.filter.task_id, rows.len() as i64 == REPLAY_PAGE) {
                (Some(task_id), false) => store::task_has_ended(&mut conn, task_id).await?,
                _ => false,
            };
            Ok::<_, store::StoreError>((rows, ended))
        };
        match page.await {
            Err(error) => {
                tracing::warn!(%error, "replaying history failed");
                self.pending.push_back(Frame::End(End::Unavailable));
            }
            Ok((rows, ended)) => {
                let full = rows.len() as i64 == REPLAY_PAGE;
                for row in rows {
                    self.cursor = row.seq;
                    if self.sub.filter.matches(&row) {
                        let terminal = row.is_terminal();
                        self.pending
                            .push_back(Frame::Told(Arc::new(Told::new(row))));
                        if terminal && self.sub.filter.task_id.is_some() {
                            self.pending.push_back(Frame::End(End::TaskEnded));
                            return;
                        }
                    }
                }
                if ended {
                    self.pending.push_back(Frame::End(End::TaskEnded));
                } else if !full {
                    self.phase = Phase::Live;
                }
            }
        }
    }

    fn take(&mut self, item: &FeedItem) {
        match item {
            FeedItem::Told(told) => {
                if told.row.seq <= self.cursor {
                    return;
                }
                self.cursor = told.row.seq;
                if self.sub.filter.matches(&told.row) {
                    self.pending.push_back(Frame::Told(told.clone()));
                    if told.row.is_terminal() && self.sub.filter.task_id.is_some() {
                        self.pending.push_back(Frame::End(End::TaskEnded));
                    }
                }
            }
            FeedItem::KeyRevoked(key_id) if *key_id == self.sub.key_id => {
                self.pending.push_back(Frame::End(End::Revoked));
            }
            FeedItem::KeyRevoked(_) => {}
        }
    }
}
