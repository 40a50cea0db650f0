//! Submitting tasks, alone or in an all-or-nothing batch, with per-tenant idempotency keys.

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use sha2::{Digest, Sha256};
use taskflow_schemas::{Event, EventMeta};
use uuid::Uuid;

use super::record::{NewTask, Outgoing, record_new};
use super::{ServiceError, Services};
use crate::domain::TaskView;
use crate::domain::catalog::PayloadProblem;
use crate::domain::quota::{self, Limits};
use crate::domain::submission::{self, Submission, SubmissionRefused, ValidSubmission};
use crate::store::{self, Conn, TenantRow};

/// One task to create, with the optional key the client gave it.
#[derive(Debug, Clone)]
pub struct SubmitItem {
    pub submission: Submission,
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Submitted {
    pub task: TaskView,
    /// True when the idempotency key matched an earlier identical request.
    pub replayed: bool,
}

/// Validates every item, then creates all of them in one transaction or none. `batch`: the items
/// came as `POST /v1/tasks:batch`, so a refusal names the item (`BatchItemRefused`).
pub async fn submit(
    services: &Services,
    tenant: &TenantRow,
    items: Vec<SubmitItem>,
    batch: bool,
    correlation_id: &str,
) -> Result<Vec<Submitted>, ServiceError> {
    let allowed = allowed_priorities(tenant);
    let single = !batch;
    let mut prepared = Vec::with_capacity(items.len());
    let mut keys = std::collections::HashSet::new();
    // One instant for the whole request: delays resolve against the time the tasks are created.
    let now = services.clock.now();
    for (index, item) in items.iter().enumerate() {
        let Some(key) = &item.idempotency_key else {
            continue;
        };
        let message = if !submission::valid_idempotency_key(key) {
            format!(
                "an idempotency key is 1-{} printable ASCII characters, not starting or ending with a space",
                submission::MAX_IDEMPOTENCY_KEY
            )
        } else if !keys.insert(key) {
            format!("{key:?} is used by an earlier item of this batch")
        } else {
            continue;
        };
        // Pointers are relative to the item; the problem document says which item.
        let source = SubmissionRefused::Invalid(vec![PayloadProblem {
            pointer: "/idempotency_key".into(),
            message,
        }]);
        return Err(if single {
            source.into()
        } else {
            ServiceError::BatchItemRefused { index, source }
        });
    }
    for (index, item) in items.into_iter().enumerate() {
        let request_hash = request_hash(&item.submission);
        let valid = submission::validate(
            item.submission,
            &services.catalog,
            &services.policy,
            allowed.as_deref(),
            now,
        )
        .map_err(|source| {
            if single {
                source.into()
            } else {
                ServiceError::BatchItemRefused { index, source }
            }
        })?;
        prepared.push((valid, item.idempotency_key, request_hash));
    }
    let mut conn = services.db.get().await?;
    let tenant_id = tenant.id;
    let producer = services.producer_name.clone();
    let correlation_id = correlation_id.to_owned();
    let submitted = conn
        .transaction::<_, ServiceError, _>(async move |conn| {
            create_all(conn, tenant_id, &prepared, &producer, &correlation_id, now).await
        })
        .await?;
    if submitted.iter().any(|s| !s.replayed) {
        services.outbox_ready.notify_one();
    }
    for s in submitted.iter().filter(|s| !s.replayed) {
        taskflow_platform::metrics::TASKS_SUBMITTED
            .with_label_values(&[s.task.task_type.as_str(), s.task.priority.as_str(), "api"])
            .inc();
    }
    Ok(submitted)
}

async fn create_all(
    conn: &mut Conn,
    tenant_id: Uuid,
    prepared: &[(ValidSubmission, Option<String>, Vec<u8>)],
    producer: &str,
    correlation_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Submitted>, ServiceError> {
    // Replays first: they return what exists and count against no quota.
    let mut replays = Vec::with_capacity(prepared.len());
    for (_, key, hash) in prepared {
        let replay = match key {
            None => None,
            Some(key) => {
                if !store::try_lock_idempotency_key(conn, lock_id(tenant_id, key)).await? {
                    return Err(ServiceError::KeyInFlight(key.clone()));
                }
                match store::find_idempotency_key(conn, tenant_id, key).await? {
                    None => None,
                    Some((stored, _)) if stored != *hash => {
                        return Err(ServiceError::KeyReused(key.clone()));
                    }
                    Some((_, task_id)) => Some(task_id),
                }
            }
        };
        replays.push(replay);
    }
    // Limits as of now, read under a share lock that a concurrent limit change waits for.
    let tenant = store::lock_tenant_shared(conn, tenant_id)
        .await?
        .ok_or(ServiceError::TenantNotFound)?;
    let limits = Limits {
        max_active_tasks: tenant.max_active_tasks,
        submissions_per_minute: tenant.submissions_per_minute,
    };
    let new_count = replays.iter().filter(|r| r.is_none()).count() as i32;
    // Counters exist for the limits; an unlimited tenant skips the row lock that would
    // otherwise make all its submissions queue behind one another. Setting a limit recounts.
    let limited = limits.max_active_tasks.is_some() || limits.submissions_per_minute.is_some();
    if new_count > 0 && limited {
        let usage = store::lock_usage(conn, tenant_id).await?;
        let admitted = quota::admit(limits, usage, now, new_count)?;
        store::save_usage(conn, tenant_id, admitted).await?;
    }
    // New tasks are written together: one statement per table, however many in the batch.
    let mut events = Vec::with_capacity(prepared.len());
    let trace = taskflow_platform::headers::current_trace();
    let mut keys = Vec::new();
    for ((valid, key, hash), replay) in prepared.iter().zip(&replays) {
        if replay.is_some() {
            continue;
        }
        let task_id = Uuid::now_v7();
        let meta = EventMeta::new(now.timestamp_millis(), correlation_id, tenant_id, producer);
        events.push(NewTask::submitted(
            Event::from(submission::task_created(valid, meta, task_id, key.clone())),
            trace.clone(),
        ));
        if let Some(key) = key {
            keys.push((key.as_str(), hash.as_slice(), task_id));
        }
    }
    let mut out = Outgoing::default();
    let mut created = record_new(conn, &events, &mut out).await?.into_iter();
    store::insert_idempotency_keys(conn, tenant_id, &keys).await?;
    let mut submitted = Vec::with_capacity(prepared.len());
    for replay in replays {
        let (task, replayed) = match replay {
            Some(task_id) => (
                store::get_task(conn, tenant_id, task_id)
                    .await?
                    .ok_or(ServiceError::TaskNotFound)?,
                true,
            ),
            None => (
                created
                    .next()
                    .ok_or(ServiceError::Store(store::StoreError::Corrupt {
                        what: "new task",
                        reason: "fewer tasks recorded than submitted".into(),
                    }))?,
                false,
            ),
        };
        submitted.push(Submitted { task, replayed });
    }
    out.append(conn).await?;
    Ok(submitted)
}

pub(super) fn allowed_priorities(tenant: &TenantRow) -> Option<Vec<taskflow_schemas::Priority>> {
    tenant.allowed_priorities.as_ref().map(|names| {
        names
            .iter()
            .filter_map(|n| submission::parse_priority(n))
            .collect()
    })
}

/// Fingerprint of what the client asked for; equal requests hash equal whatever their JSON
/// key order or whitespace. `run_at` / `delay_ms` as sent (a replayed `delay_ms` body matches
/// although "now" moved), and only when given, so keys stored before they existed still match.
pub fn request_hash(s: &Submission) -> Vec<u8> {
    let mut canonical = serde_json::json!({
        "type": s.task_type,
        "payload": s.payload,
        "priority": s.priority,
        "max_attempts": s.max_attempts,
        "timeout_ms": s.timeout_ms,
        "labels": s.labels,
    });
    if let Some(run_at) = &s.run_at {
        canonical["run_at"] = run_at.as_str().into();
    }
    if let Some(delay_ms) = s.delay_ms {
        canonical["delay_ms"] = delay_ms.into();
    }
    Sha256::digest(canonical.to_string().as_bytes()).to_vec()
}

/// Advisory-lock id of (tenant, key): 64 bits of their SHA-256.
pub fn lock_id(tenant_id: Uuid, key: &str) -> i64 {
    let digest = Sha256::new()
        .chain_update(tenant_id.as_bytes())
        .chain_update(key.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}
