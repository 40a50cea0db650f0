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

use diesel_async::pooled_connection::deadpool::Object;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures::{FutureExt, StreamExt};

use crate::db::DbPool;

pub struct Listener {
    pool: DbPool,
    channel: &'static str,
    conn: Option<AsyncPgConnection>,
    /// The connection has `LISTEN`ed (and not `UNLISTEN`ed since).
    listening: bool,
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
        let Some(conn) = self.conn.as_mut().filter(|_| self.listening) else {
            return std::future::pending().await;
        };
        let woke = {
            let mut stream = std::pin::pin!(conn.notifications_stream());
            match stream.next().await {
                Some(Ok(_)) => {
                    while let Some(Some(Ok(_))) = stream.next().now_or_never() {}
                    true
                }
                _ => false,
            }
        };
        if !woke {
            self.conn = None;
            self.listening = false;
        }
        woke
    }
}
