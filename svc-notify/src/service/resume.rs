//! Resume: where a feed starts when a client opens it or comes back, for SSE and WebSocket
//! alike. Every notification of a tenant has a sequence number (the SSE `id:`); a client that
//! reconnects sends the last one it received and gets everything after it, once:
//! - the cursor is `Last-Event-ID` (what `EventSource` sends on reconnect), else `?after=`
//!   (what a client sends first); both are checked when both are sent ([`cursor`]);
//! - a cursor ahead of the feed is refused, one older than retention gets a `resync` snapshot
//!   of the tenant's tasks first, no cursor starts a tenant feed now and a task feed at the
//!   task's first event ([`open`]);
//! - a task feed whose task ended with nothing after the cursor is over: the SSE handler
//!   answers 204, which stops `EventSource` ([`task_feed_is_over`]).
//!
//! The feed subscribes to the hub before it reads history, so nothing committed in between is
//! lost; the replay after the cursor and the switch to live, dropping what was replayed by
//! sequence number, are the [`Subscription`]'s.

use std::time::Duration;

use taskflow_platform::db::DbPool;
use uuid::Uuid;

use super::subscription::{Filter, Start, Subscription};
use crate::hub::Hub;
use crate::store::{self, StoreError};

/// Snapshot size of a `resync`.
const RESYNC_TASKS: i64 = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    /// `carrier` (`after` or `Last-Event-ID`) is not a sequence number; `text` is its start.
    #[error(
        "{carrier} must be a notification sequence number (a whole number ≥ 0, the id of the last event you received), not {text:?}"
    )]
    Malformed { carrier: &'static str, text: String },
    #[error(
        "no notification {after} exists yet: the latest is {latest}; resume from an id you received"
    )]
    Ahead { after: i64, latest: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The resume cursor from `?after=` and the `Last-Event-ID` header's text, the header winning.
/// A malformed one is refused even when the other would do, never ignored.
pub fn cursor(
    after: Option<&str>,
    last_event_id: Option<&str>,
) -> Result<Option<i64>, ResumeError> {
    let parse = |carrier: &'static str, text: &str| {
        let text = text.trim();
        text.parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| ResumeError::Malformed {
                carrier,
                text: text.chars().take(40).collect(),
            })
    };
    let after = after.map(|a| parse("after", a)).transpose()?;
    let header = last_event_id
        .map(|v| parse("Last-Event-ID", v))
        .transpose()?;
    Ok(header.or(after))
}

/// Who reads a feed: the tenant, and the key whose revocation ends it.
#[derive(Debug, Clone, Copy)]
pub struct Reader {
    pub tenant_id: Uuid,
    pub key_id: Uuid,
}

/// Subscribes `reader` and decides where its feed starts; refuses a cursor from the future.
pub async fn open(
    pool: &DbPool,
    hub: &Hub,
    keepalive: Duration,
    reader: Reader,
    filter: Filter,
    cursor: Option<i64>,
) -> Result<Subscription, ResumeError> {
    // Subscribe first: whatever commits from here on reaches the feed live, and the replay
    // covers everything before (overlaps are dropped by sequence number).
    let rx = hub.subscribe(reader.tenant_id).await?;
    let mut conn = pool.get().await.map_err(StoreError::from)?;
    let (last, pruned) = store::cursor_of(&mut conn, reader.tenant_id).await?;
    let start = match cursor {
        Some(after) if after > last => {
            return Err(ResumeError::Ahead {
                after,
                latest: last,
            });
        }
        Some(after) if after < pruned => {
            let mut overview =
                store::overview(&mut conn, reader.tenant_id, RESYNC_TASKS, true).await?;
            if let Some(task_id) = filter.task_id {
                overview.tasks.retain(|t| t.task_id == task_id);
            }
            Start::Resync(overview)
        }
        Some(after) => Start::After(after),
        // One task: its whole story. The tenant: from now on.
        None if filter.task_id.is_some() => Start::After(0),
        None => Start::After(last),
    };
    Ok(Subscription {
        pool: pool.clone(),
        tenant_id: reader.tenant_id,
        key_id: reader.key_id,
        filter,
        keepalive,
        rx,
        start,
    })
}

/// A task feed resumed `after` has nothing left to tell: nothing of the task after the cursor,
/// and the task has ended.
pub async fn task_feed_is_over(
    pool: &DbPool,
    tenant_id: Uuid,
    task_id: Uuid,
    after: i64,
) -> Result<bool, StoreError> {
    let mut conn = pool.get().await?;
    let rest = store::history(&mut conn, tenant_id, after, 1, Some(task_id)).await?;
    Ok(rest.is_empty() && store::task_has_ended(&mut conn, task_id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_event_id_wins_over_after_and_both_are_checked() {
        assert_eq!(cursor(None, None).ok(), Some(None));
        assert_eq!(cursor(Some("7"), None).ok(), Some(Some(7)));
        assert_eq!(cursor(Some("7"), Some(" 9 ")).ok(), Some(Some(9)));
        assert!(matches!(
            cursor(Some("x"), Some("9")),
            Err(ResumeError::Malformed {
                carrier: "after",
                ..
            })
        ));
        assert!(matches!(
            cursor(Some("7"), Some("-1")),
            Err(ResumeError::Malformed {
                carrier: "Last-Event-ID",
                ..
            })
        ));
    }

    #[test]
    fn a_malformed_cursor_is_quoted_trimmed_and_cut_at_40_characters() {
        let long = format!(" {} ", "a".repeat(50));
        let error = cursor(Some(&long), None).expect_err("malformed");
        assert_eq!(
            error.to_string(),
            format!(
                "after must be a notification sequence number (a whole number ≥ 0, the id of the last event you received), not {:?}",
                "a".repeat(40)
            )
        );
    }
}
