//! Consumes task requests, execution lifecycle and API key events into svc-notify's database:
//! one transaction per consumed batch holding the keys (the platform's directory, deduplicated
//! by the inbox), the tasks' views, the numbered notifications (deduplicated by their own event
//! ids) and the counters. The fan-out wakes on that transaction's commit (a NOTIFY), so nothing
//! is told before it is durable.

use std::collections::{BTreeMap, HashMap};

use diesel_async::AsyncConnection;
use taskflow_platform::db::DbPool;
use taskflow_platform::keys::{self, KeyChange};
use taskflow_platform::{BatchHandler, ConsumedRecord};
use taskflow_schemas::Event;
use uuid::Uuid;

use crate::domain::{Draft, TaskState, TaskStatus, fold};
use crate::store::{self, Conn, StoreError, StoredNotification, TaskRow};

pub struct Ingest {
    pub db: DbPool,
}

impl BatchHandler for Ingest {
    type Error = StoreError;

    async fn handle(&mut self, batch: &[ConsumedRecord]) -> Result<(), StoreError> {
        let mut conn = self.db.get().await?;
        conn.transaction::<_, StoreError, _>(async move |conn| ingest(conn, batch).await)
            .await
    }
}

async fn ingest(conn: &mut Conn, batch: &[ConsumedRecord]) -> Result<(), StoreError> {
    // Key events go through the inbox; a task's events are deduplicated by the history they
    // are told into (`apply_tasks`), which saves a row per consumed event.
    let is_key =
        |r: &&ConsumedRecord| matches!(r.event, Event::ApiKeyIssued(_) | Event::ApiKeyRevoked(_));
    let ids: Vec<Uuid> = batch
        .iter()
        .filter(is_key)
        .map(|r| r.event.meta().event_id)
        .collect();
    let mut new = taskflow_platform::inbox::record_all(conn, &ids).await?;
    let keys: Vec<&ConsumedRecord> = batch
        .iter()
        .filter(is_key)
        .filter(|r| new.remove(&r.event.meta().event_id))
        .collect();
    apply_keys(conn, &keys).await?;
    apply_tasks(conn, batch).await
}

/// Applies the key events to the platform's directory; a revocation wakes the fan-out, which
/// cuts off the key's feeds.
async fn apply_keys(conn: &mut Conn, records: &[&ConsumedRecord]) -> Result<(), StoreError> {
    let mut revoked = false;
    for record in records {
        if !matches!(
            record.event,
            Event::ApiKeyIssued(_) | Event::ApiKeyRevoked(_)
        ) {
            continue;
        }
        let span = record.span();
        let _enter = span.enter();
        revoked |= keys::apply(conn, &record.event).await? == KeyChange::Revoked;
    }
    if revoked {
        store::wake_fanout(conn).await?;
    }
    Ok(())
}

async fn apply_tasks(conn: &mut Conn, batch: &[ConsumedRecord]) -> Result<(), StoreError> {
    let lifecycle: Vec<&ConsumedRecord> = batch
        .iter()
        .filter(|r| r.event.kind().is_task_lifecycle())
        .collect();
    let mut task_ids: Vec<Uuid> = lifecycle.iter().filter_map(|r| r.event.task_id()).collect();
    if task_ids.is_empty() {
        return Ok(());
    }
    task_ids.sort_unstable();
    task_ids.dedup();
    let mut states: HashMap<Uuid, TaskState> = store::lock_tasks(conn, &task_ids)
        .await?
        .into_iter()
        .map(|row| (row.task_id, state_of(row)))
        .collect();
    // New: neither told (in the history) nor held. Asked once the tasks are locked, so a copy
    // another instance is applying is seen once its lock frees; a copy twice in this batch
    // counts once.
    let ids: Vec<Uuid> = lifecycle.iter().map(|r| r.event.meta().event_id).collect();
    let mut new = store::not_yet_told(conn, &ids).await?;
    let records: Vec<&ConsumedRecord> = lifecycle
        .into_iter()
        .filter(|r| new.remove(&r.event.meta().event_id))
        .collect();
    // A task's lifecycle events can be read before its TaskCreated (another topic): they wait
    // until the creation is known, then are told right after it, in the order they came.
    let creating: Vec<Uuid> = records
        .iter()
        .filter_map(|r| match &r.event {
            Event::TaskCreated(e) => Some(e.task_id),
            _ => None,
        })
        .collect();
    let mut held: HashMap<Uuid, Vec<Event>> = store::take_held(conn, &creating).await?;
    let mut drafts: Vec<Draft> = Vec::new();
    let mut tell = |event: &Event, states: &mut HashMap<Uuid, TaskState>| {
        let current = event.task_id().and_then(|id| states.get(&id)).cloned();
        if let Some((next, draft)) = fold(current, event) {
            states.insert(next.task_id, next);
            drafts.push(draft);
        }
    };
    for record in records {
        if !record.event.kind().is_task_lifecycle() {
            continue;
        }
        let Some(task_id) = record.event.task_id() else {
            continue;
        };
        let created = states.get(&task_id).is_some_and(|s| s.created_at.is_some());
        let span = record.span();
        let _enter = span.enter();
        if matches!(record.event, Event::TaskCreated(_)) {
            tell(&record.event, &mut states);
            for event in held.remove(&task_id).unwrap_or_default() {
                tell(&event, &mut states);
            }
        } else if created {
            tell(&record.event, &mut states);
        } else {
            tracing::debug!(%task_id, event_type = record.event.kind().name(), "held until the task's creation is known");
            held.entry(task_id).or_default().push(record.event.clone());
        }
    }
    let still_held: Vec<&Event> = held.values().flatten().collect();
    store::hold(conn, &still_held).await?;
    if drafts.is_empty() {
        return Ok(());
    }
    let mut per_tenant: BTreeMap<Uuid, i64> = BTreeMap::new();
    for draft in &drafts {
        *per_tenant.entry(draft.tenant_id).or_default() += 1;
    }
    let counts: Vec<(Uuid, i64)> = per_tenant.into_iter().collect();
    let mut next_seq = store::allocate_seqs(conn, &counts).await?;
    let mut last_seq: HashMap<Uuid, i64> = HashMap::new();
    let mut deltas: Vec<(Uuid, &'static str, i64)> = Vec::new();
    let mut rows = Vec::with_capacity(drafts.len());
    for draft in drafts {
        let seq = next_seq
            .get_mut(&draft.tenant_id)
            .ok_or_else(|| StoreError::Corrupt {
                what: "tenant feed",
                reason: format!("no sequence numbers for tenant {}", draft.tenant_id),
            })?;
        last_seq.insert(draft.task_id, *seq);
        if draft.previous_status != Some(draft.status) {
            if let Some(previous) = draft.previous_status {
                deltas.push((draft.tenant_id, previous.as_str(), -1));
            }
            deltas.push((draft.tenant_id, draft.status.as_str(), 1));
        }
        rows.push(stored(draft, *seq));
        *seq += 1;
    }
    store::insert_notifications(conn, &rows).await?;
    let changed: Vec<TaskRow> = last_seq
        .into_iter()
        .filter_map(|(task_id, seq)| states.remove(&task_id).map(|s| row_of(s, seq)))
        .collect();
    store::save_tasks(conn, &changed).await?;
    store::add_to_counts(conn, &deltas).await
}

fn labels_json(labels: &BTreeMap<String, String>) -> serde_json::Value {
    taskflow_platform::text::scrub_json(serde_json::to_value(labels).unwrap_or_default())
}

fn stored(draft: Draft, seq: i64) -> StoredNotification {
    StoredNotification {
        tenant_id: draft.tenant_id,
        seq,
        event_id: draft.event_id,
        task_id: draft.task_id,
        event_type: draft.event_type.to_owned(),
        status: draft.status.as_str().to_owned(),
        previous_status: draft.previous_status.map(|s| s.as_str().to_owned()),
        task_type: draft.task_type,
        priority: draft.priority,
        labels: labels_json(&draft.labels),
        percent: draft.percent,
        message: draft
            .message
            .map(|m| taskflow_platform::text::scrub(&m).into_owned()),
        attempt: draft.attempt,
        error: draft
            .error
            .map(|m| taskflow_platform::text::scrub(&m).into_owned()),
        result_summary: draft
            .result_summary
            .map(|m| taskflow_platform::text::scrub(&m).into_owned()),
        occurred_at: draft.occurred_at,
    }
}

fn state_of(row: TaskRow) -> TaskState {
    TaskState {
        task_id: row.task_id,
        tenant_id: row.tenant_id,
        task_type: row.task_type,
        priority: row.priority,
        labels: serde_json::from_value(row.labels).unwrap_or_default(),
        status: TaskStatus::parse(&row.status).unwrap_or(TaskStatus::Pending),
        percent: row.percent,
        message: row.message,
        attempt: row.attempt,
        error: row.error,
        cancel_requested: row.cancel_requested,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

pub(crate) fn row_of(state: TaskState, last_seq: i64) -> TaskRow {
    TaskRow {
        task_id: state.task_id,
        tenant_id: state.tenant_id,
        task_type: state.task_type,
        priority: state.priority,
        labels: labels_json(&state.labels),
        status: state.status.as_str().to_owned(),
        percent: state.percent,
        message: state
            .message
            .map(|m| taskflow_platform::text::scrub(&m).into_owned()),
        attempt: state.attempt,
        error: state
            .error
            .map(|m| taskflow_platform::text::scrub(&m).into_owned()),
        cancel_requested: state.cancel_requested,
        created_at: state.created_at,
        updated_at: state.updated_at,
        last_seq,
    }
}
