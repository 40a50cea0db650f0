//! Waking on PostgreSQL `NOTIFY` instead of polling: a [`Listener`] holds one connection of its
//! own (taken out of the pool for good) that `LISTEN`s on a channel. Notifications are sent at
//! commit, so a wake-up always follows a committed change. If the connection is lost the
//! listener reconnects on the next wait; callers keep a slow poll as the safety net.

use diesel_async::pooled_connection::deadpool::Object;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures::{FutureExt, StreamExt};

use crate::db::DbPool;

pub struct Listener {
    pool: DbPool,
    channel: &'static str,
    conn: Option<AsyncPgConnection>,
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
        }
    }

    /// Connects and listens if not already; false when the database cannot be reached.
    pub async fn ensure(&mut self) -> bool {
        if self.conn.is_some() {
            return true;
        }
        let Ok(mut conn) = self.pool.get().await else {
            return false;
        };
        let listen = diesel::sql_query(format!("LISTEN {}", self.channel))
            .execute(&mut *conn)
            .await;
        if listen.is_err() {
            return false;
        }
        self.conn = Some(Object::take(conn));
        true
    }

    /// Takes the notifications that already arrived, without waiting; true if there were any.
    pub fn take_pending(&mut self) -> bool {
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
    /// connected, so use it inside a `select!` with a timeout.
    pub async fn notified(&mut self) -> bool {
        let Some(conn) = self.conn.as_mut() else {
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
        }
        woke
    }
}
