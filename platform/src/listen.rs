//! Waking on PostgreSQL `NOTIFY` instead of polling: a [`Listener`] holds one connection of its
//! own (taken out of the pool for good) that `LISTEN`s on a channel. Notifications are sent at
//! commit, so a wake-up always follows a committed change. If the connection is lost the
//! listener reconnects on the next wait; callers keep a slow poll as the safety net.
//!
//! Listening is not free: for every commit that notifies on its database (on any channel),
//! PostgreSQL signals each listening connection of that database, which then reads the
//! notification queue in a transaction of its own (counted in `pg_stat_database.xact_commit`).
//! An owner that runs again anyway — a relay in a streak of large passes — [`pauses`](Listener::pause)
//! (`UNLISTEN`, the connection stays), and after listening again looks once more before it
//! waits, for changes committed while nobody listened.
//!
//! A connection that only listens never runs a statement, and PostgreSQL publishes a backend's
//! counters only after a statement (or at disconnect): its notification reads would show up in
//! `pg_stat_database` hours late, all at once. So a listener that waits runs an empty statement
//! every [`REPORT_EVERY`] to publish them (one transaction per 10 s).

use std::time::Duration;

use diesel_async::pooled_connection::deadpool::Object;
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use futures::{FutureExt, StreamExt};
use tokio::time::Instant;

use crate::db::DbPool;

/// How often a waiting listener makes its backend publish its counters.
pub const REPORT_EVERY: Duration = Duration::from_secs(10);

pub struct Listener {
    pool: DbPool,
    channel: &'static str,
    conn: Option<AsyncPgConnection>,
    /// The connection has `LISTEN`ed (and not `UNLISTEN`ed since).
    listening: bool,
    /// When the backend last ran a statement (and so published its counters).
    reported_at: Instant,
}

impl Listener {
    /// `channel` must be a plain identifier (it is written into the LISTEN statement).
    pub fn new(pool: DbPool, channel: &'static str) -> Self {
        debug_assert!(
            channel
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        );
        Self {
            pool,
            channel,
            conn: None,
            listening: false,
            reported_at: Instant::now(),
        }
    }

    /// Connects and listens if not already; false when the database cannot be reached.
    pub async fn ensure(&mut self) -> bool {
        if self.listening && self.conn.is_some() {
            return true;
        }
        if self.conn.is_none() {
            let Ok(conn) = self.pool.get().await else {
                return false;
            };
            self.conn = Some(Object::take(conn));
        }
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        let listen = diesel::sql_query(format!("LISTEN {}", self.channel))
            .execute(conn)
            .await;
        if listen.is_err() {
            self.conn = None;
            self.listening = false;
            return false;
        }
        self.listening = true;
        self.reported_at = Instant::now();
        true
    }

    /// Whether notifications reach this listener now.
    pub fn is_listening(&self) -> bool {
        self.listening && self.conn.is_some()
    }

    /// Stops listening (`UNLISTEN`) but keeps the connection for [`Listener::ensure`]; what
    /// arrived before is dropped. Commits meanwhile wake nobody here: the owner must look
    /// for changes itself after listening again.
    pub async fn pause(&mut self) {
        if !self.listening {
            return;
        }
        self.listening = false;
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let unlisten = diesel::sql_query(format!("UNLISTEN {}", self.channel))
            .execute(&mut *conn)
            .await;
        if unlisten.is_err() {
            self.conn = None;
            return;
        }
        let mut stream = std::pin::pin!(conn.notifications_stream());
        while let Some(Some(Ok(_))) = stream.next().now_or_never() {}
    }

    /// Takes the notifications that already arrived, without waiting; true if there were any.
    pub fn take_pending(&mut self) -> bool {
        if !self.listening {
            return false;
        }
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        let mut stream = std::pin::pin!(conn.notifications_stream());
        let mut any = false;
        while let Some(Some(Ok(_))) = stream.next().now_or_never() {
            any = true;
        }
        any
    }

    /// Waits for the next notification and takes every one queued behind it. Returns false
    /// when the connection is gone (the next `ensure` reconnects); pending forever while not
    /// connected or paused, so use it inside a `select!` with a timeout.
    pub async fn notified(&mut self) -> bool {
        loop {
            let Some(conn) = self.conn.as_mut().filter(|_| self.listening) else {
                return std::future::pending().await;
            };
            let report_at = self.reported_at + REPORT_EVERY;
            let woke = {
                let mut stream = std::pin::pin!(conn.notifications_stream());
                tokio::select! {
                    next = stream.next() => match next {
                        Some(Ok(_)) => {
                            while let Some(Some(Ok(_))) = stream.next().now_or_never() {}
                            Some(true)
                        }
                        _ => Some(false),
                    },
                    () = tokio::time::sleep_until(report_at) => None,
                }
            };
            match woke {
                Some(true) => return true,
                Some(false) => {}
                None => {
                    // An empty statement: the backend publishes its counters when it is done.
                    self.reported_at = Instant::now();
                    if conn.batch_execute("").await.is_ok() {
                        continue;
                    }
                }
            }
            self.conn = None;
            self.listening = false;
            return false;
        }
    }
}
