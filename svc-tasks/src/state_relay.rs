//! Feeds the compacted `taskflow.tasks.state.v1` from the projection, by position: a change of
//! a task's status, attempts or cancel flag stamps its row with the writing transaction
//! (`tasks.state_tx`, in the projection's own statement), and every pass publishes the current
//! state of the rows stamped after the cursor, in (state_tx, id) order, then moves the cursor
//! (one row) past the last one acknowledged. Only stamps of transactions that have all ended
//! are read (below the oldest running transaction id), so a transaction committing late can
//! never slip behind the cursor. Marking each task published cost a row write per task; the
//! cursor costs one per pass. Passes take turns across svc-tasks instances (an advisory lock).
//! A task that changed several times between two passes is published once, in its latest
//! state — the topic carries states, not steps. A crash between the broker's acknowledgement
//! and the commit publishes the same states again: harmless on a compacted topic whose readers
//! keep the highest `version`.

use std::time::Duration;

use diesel_async::AsyncConnection;
use taskflow_platform::EventProducer;
use taskflow_platform::runtime::StopSignal;
use taskflow_schemas::{Event, EventMeta};

use crate::domain::state_of;
use crate::service::{ServiceError, Services};
use crate::store;

/// Pause between passes when the last one found little; states lag changes by about this much.
const INTERVAL: Duration = Duration::from_millis(500);
/// Most states per pass (a full pass is followed by the next at once).
const BATCH: i64 = 1_000;

pub struct StateRelay {
    pub services: Services,
    pub producer: EventProducer,
}

impl StateRelay {
    pub async fn run(self, mut stop: StopSignal) {
        let mut failures = 0u32;
        loop {
            let wait = match self.pass().await {
                Ok(n) if n as i64 >= BATCH => Duration::ZERO,
                Ok(_) => {
                    failures = 0;
                    INTERVAL
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(%error, failures, "state relay pass failed; retrying");
                    taskflow_platform::backoff::step(INTERVAL, Duration::from_secs(10), failures)
                }
            };
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Publishes one batch of changed states; returns how many.
    pub async fn pass(&self) -> Result<usize, ServiceError> {
        let mut conn = self.services.db.get().await?;
        let producer = &self.producer;
        let name = &self.services.producer_name;
        conn.transaction::<_, ServiceError, _>(async |conn| {
            if !store::take_state_relay_turn(conn).await? {
                return Ok(0);
            }
            let changed = store::states_after_cursor(conn, BATCH).await?;
            if changed.is_empty() {
                return Ok(0);
            }
            let events: Vec<Event> = changed
                .iter()
                .map(|(task, _)| {
                    let meta = EventMeta::new(
                        task.updated_at.timestamp_millis(),
                        &task.correlation_id,
                        task.tenant_id,
                        name,
                    );
                    state_of(task, meta).into()
                })
                .collect();
            let results = producer.publish_all(&events).await;
            // The cursor moves over the leading run of acknowledged states; from the first
            // failure on, the next pass sends again (a duplicate state is harmless).
            let published = results.iter().take_while(|r| r.is_ok()).count();
            if let Some(Err(error)) = results.get(published) {
                tracing::warn!(%error, failed = changed.len() - published, "some task states were not published; the next pass tries again");
            }
            if let Some((_, position)) = published.checked_sub(1).map(|last| &changed[last]) {
                store::move_state_cursor(conn, *position).await?;
            }
            Ok(published)
        })
        .await
    }
}
