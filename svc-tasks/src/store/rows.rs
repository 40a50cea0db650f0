//! Row types and their mapping to the domain.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use taskflow_schemas::Event;
use uuid::Uuid;

use super::StoreError;
use super::schema::{api_keys, task_events, tasks, tenants};
use crate::domain::api_key::ApiKey;
use crate::domain::submission::{parse_priority, priority_name};
use crate::domain::{TaskStatus, TaskView};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = tenants, check_for_backend(diesel::pg::Pg))]
pub struct TenantRow {
    pub id: Uuid,
    pub name: String,
    pub max_active_tasks: Option<i32>,
    pub submissions_per_minute: Option<i32>,
    pub allowed_priorities: Option<Vec<String>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys, check_for_backend(diesel::pg::Pg))]
pub struct ApiKeyRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub key_hash: Vec<u8>,
    pub key_prefix: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub announced_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(row: ApiKeyRow) -> Self {
        Self {
            id: row.id,
            tenant_id: row.tenant_id,
            hash: row.key_hash,
            prefix: row.key_prefix,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
            announced: row.announced_at.is_some(),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = task_events, check_for_backend(diesel::pg::Pg))]
pub struct StoredEvent {
    pub version: i32,
    pub event_id: Uuid,
    pub event_type: String,
    pub correlation_id: String,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub body: serde_json::Value,
}

impl StoredEvent {
    pub fn into_event(self) -> Result<Event, StoreError> {
        let kind = super::event_kind(&self.event_type)?;
        Event::from_json(kind, self.body).map_err(|e| StoreError::Corrupt {
            what: "event body",
            reason: e.to_string(),
        })
    }
}

/// Filters of `GET /v1/tasks`, already validated.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: Option<String>,
    pub task_type: Option<String>,
    pub priority: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    /// Keyset cursor: (created_at, id) of the last task of the previous page.
    pub before: Option<(DateTime<Utc>, Uuid)>,
    pub limit: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = tasks, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
pub struct TaskRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub task_type: String,
    pub priority: String,
    pub status: String,
    pub payload: serde_json::Value,
    pub labels: serde_json::Value,
    pub max_attempts: i32,
    pub timeout_ms: i64,
    pub attempts: i32,
    pub progress_percent: Option<i32>,
    pub progress_message: Option<String>,
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
    pub idempotency_key: Option<String>,
    pub correlation_id: String,
    pub cancel_requested: bool,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub schedule_id: Option<Uuid>,
    pub fire_time: Option<DateTime<Utc>>,
    pub run_at: Option<DateTime<Utc>>,
}

impl TaskRow {
    pub fn from_view(t: &TaskView) -> Result<Self, StoreError> {
        Ok(Self {
            id: t.id,
            tenant_id: t.tenant_id,
            task_type: t.task_type.clone(),
            priority: priority_name(t.priority).to_owned(),
            status: t.status.as_str().to_owned(),
            payload: t.payload.clone(),
            labels: serde_json::to_value(&t.labels).map_err(|e| StoreError::Corrupt {
                what: "labels",
                reason: e.to_string(),
            })?,
            max_attempts: t.max_attempts,
            timeout_ms: t.timeout_ms,
            attempts: t.attempts,
            progress_percent: t.progress_percent,
            progress_message: t.progress_message.clone(),
            result: t.result.clone(),
            error: t.error.clone(),
            idempotency_key: t.idempotency_key.clone(),
            correlation_id: t.correlation_id.clone(),
            cancel_requested: t.cancel_requested,
            next_attempt_at: t.next_attempt_at,
            created_at: t.created_at,
            updated_at: t.updated_at,
            started_at: t.started_at,
            finished_at: t.finished_at,
            version: t.version,
            schedule_id: t.schedule_id,
            fire_time: t.fire_time,
            run_at: t.run_at,
        })
    }

    pub fn into_view(self) -> Result<TaskView, StoreError> {
        let corrupt = |what, reason: String| StoreError::Corrupt { what, reason };
        Ok(TaskView {
            id: self.id,
            tenant_id: self.tenant_id,
            priority: parse_priority(&self.priority)
                .ok_or_else(|| corrupt("priority", self.priority.clone()))?,
            status: TaskStatus::parse(&self.status)
                .ok_or_else(|| corrupt("status", self.status.clone()))?,
            labels: serde_json::from_value::<BTreeMap<String, String>>(self.labels)
                .map_err(|e| corrupt("labels", e.to_string()))?,
            task_type: self.task_type,
            payload: self.payload,
            max_attempts: self.max_attempts,
            timeout_ms: self.timeout_ms,
            attempts: self.attempts,
            progress_percent: self.progress_percent,
            progress_message: self.progress_message,
            result: self.result,
            error: self.error,
            idempotency_key: self.idempotency_key,
            correlation_id: self.correlation_id,
            cancel_requested: self.cancel_requested,
            next_attempt_at: self.next_attempt_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            version: self.version,
            schedule_id: self.schedule_id,
            fire_time: self.fire_time,
            run_at: self.run_at,
        })
    }
}
