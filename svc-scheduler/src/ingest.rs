//! What svc-scheduler follows: API keys (who may call) and the ends of the tasks it started
//! (an overlap policy needs to know whether the previous run still goes). One transaction per
//! consumed batch, deduplicated by event id.

use diesel_async::AsyncConnection;
use sha2::{Digest, Sha256};
use taskflow_platform::db::DbPool;
use taskflow_platform::{BatchHandler, ConsumedRecord};
use taskflow_schemas::Event;
use uuid::Uuid;

use crate::store::{self, StoreError};

pub struct Ingest {
    pub db: DbPool,
}

impl BatchHandler for Ingest {
    type Error = StoreError;

    async fn handle(&mut self, batch: &[ConsumedRecord]) -> Result<(), StoreError> {
        let mut conn = self.db.get().await?;
        conn.transaction::<_, StoreError, _>(async move |conn| {
            let relevant: Vec<&ConsumedRecord> = batch
                .iter()
                .filter(|r| matches!(r.event, Event::ApiKeyIssued(_) | Event::ApiKeyRevoked(_)) || r.event.is_terminal())
                .collect();
            let ids: Vec<Uuid> = relevant.iter().map(|r| r.event.meta().event_id).collect();
            let mut new = taskflow_platform::inbox::record_all(conn, &ids).await?;
            let mut ended = Vec::new();
            for record in relevant {
                if !new.remove(&record.event.meta().event_id) {
                    continue;
                }
                match &record.event {
                    Event::ApiKeyIssued(e) => match decode_hex(&e.key_sha256) {
                        Some(hash) => store::issue_key(conn, e.key_id, e.meta.tenant_id, &hash).await?,
                        None => tracing::warn!(key_id = %e.key_id, "ApiKeyIssued without a 32-byte hex hash, ignored"),
                    },
                    Event::ApiKeyRevoked(e) => store::revoke_key(conn, e.key_id).await?,
                    other => ended.push(other.key()),
                }
            }
            if !ended.is_empty() && store::mark_task_ended(conn, &ended).await? > 0 {
                store::schedules_waiting_for(conn, &ended).await?;
            }
            Ok(())
        })
        .await
    }
}

/// 64 hex digits → 32 bytes.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..64)
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect();
    // The same digest svc-tasks computes; checked here so a typo in a contract change shows.
    debug_assert!(
        bytes
            .as_ref()
            .is_none_or(|b| b.len() == Sha256::output_size())
    );
    bytes
}
