//! Feeds the compacted `taskflow.tasks.state.v1` from the projection: every pass publishes the
//! current state of the tasks whose status, attempts or cancel flag changed since their state
//! was last published (`tasks.state_version > state_published`), then marks them published, in
//! one transaction that holds their rows (`FOR UPDATE SKIP LOCKED`, so several svc-tasks
//! instances share the work). A task that changed several times between two passes is
//! published once, in its latest state — the topic carries states, not steps — which keeps the
//! state topic's cost to about one record per task on the hot path. A crash between the
//! broker's acknowledgement and the commit publishes the same state again: harmless on a
//! compacted topic whose readers keep the highest `version`.

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
            let changed = store::lock_unpublished_states(conn, BATCH).await?;
            if changed.is_empty() {
                return Ok(0);
            }
            let events: Vec<Event> = changed
                .iter()
                .map(|task| {
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
            let published: Vec<(uuid::Uuid, i32)> = changed
                .iter()
                .zip(&results)
                .filter(|(_, result)| result.is_ok())
                .map(|(task, _)| (task.id, task.version))
                .collect();
            if let Some(Err(error)) = results.iter().find(|r| r.is_err()) {
                tracing::warn!(%error, failed = changed.len() - published.len(), "some task states were not published; the next pass tries again");
            }
            store::mark_states_published(conn, &published).await?;
            Ok(published.len())
        })
        .await
    }
}
