//! Rows as read back, in the shape clients see them (JSON field names are the API's).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use super::schema::{notifications, tasks};

/// One notification: an event as a person reads it, numbered in its tenant's sequence.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Serialize)]
#[diesel(table_name = notifications, check_for_backend(diesel::pg::Pg))]
pub struct NotificationRow {
    #[serde(skip)]
    pub tenant_id: Uuid,
    pub seq: i64,
    pub event_id: Uuid,
    pub task_id: Uuid,
    pub event_type: String,
    pub status: String,
    pub previous_status: Option<String>,
    pub task_type: Option<String>,
    pub priority: Option<String>,
    pub labels: serde_json::Value,
    pub percent: Option<i32>,
    pub message: Option<String>,
    pub attempt: Option<i32>,
    pub error: Option<String>,
    pub result_summary: Option<String>,
    pub occurred_at: DateTime<Utc>,
    /// When svc-notify recorded it (its transaction's start, so at or before its commit).
    pub recorded_at: DateTime<Utc>,
}

impl NotificationRow {
    pub fn is_terminal(&self) -> bool {
        crate::domain::TaskStatus::parse(&self.status)
            .is_some_and(crate::domain::TaskStatus::is_terminal)
    }

    pub fn has_label(&self, key: &str, value: &str) -> bool {
        self.labels.get(key).and_then(|v| v.as_str()) == Some(value)
    }
}

/// A task's live view.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = tasks, check_for_backend(diesel::pg::Pg))]
pub struct TaskRow {
    pub task_id: Uuid,
    #[serde(skip)]
    pub tenant_id: Uuid,
    pub task_type: Option<String>,
    pub priority: Option<String>,
    pub labels: serde_json::Value,
    pub status: String,
    pub percent: Option<i32>,
    pub message: Option<String>,
    pub attempt: i32,
    pub error: Option<String>,
    pub cancel_requested: bool,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// The sequence number of the last notification about this task.
    pub last_seq: i64,
}
