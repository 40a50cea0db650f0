//! One struct per `.avsc` file. Field names and order follow the schema.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::meta::EventMeta;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Priority {
    Low,
    Normal,
    High,
    Critical,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCreated {
    #[serde(flatten)]
    pub meta: EventMeta,
    #[serde(with = "crate::uuid_text")]
    pub task_id: Uuid,
    pub task_type: String,
    pub priority: Priority,
    pub payload_json: String,
    pub max_attempts: i32,
    pub timeout_ms: i64,
    pub labels: BTreeMap<String, String>,
    pub idempotency_key: Option<String>,
    pub schedule_id: Option<String>,
    /// Milliseconds since the Unix epoch, UTC: not before then (a delayed task).
    #[serde(default)]
    pub run_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCancelRequested {
    #[serde(flatten)]
    pub meta: EventMeta,
    #[serde(with = "crate::uuid_text")]
    pub task_id: Uuid,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskStarted {
    #[serde(flatten)]
    pub meta: EventMeta,
    #[serde(with = "crate::uuid_text")]
    pub task_id: Uuid,
    pub attempt: i32,
    pub instance: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskProgressUpdated {
    #[serde(flatten)]
    pub meta: EventMeta,
    #[serde(with = "crate::uuid_text")]
    pub task_id: Uuid,
    pub attempt: i32,
    pub percent: i32,
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCompleted {
    #[serde(flatten)]
    pub meta: EventMeta,
    #[serde(with = "crate::uuid_text")]
    pub task_id: Uuid,
    pub attempt: i32,
    pub result_json: Option<String>,
    pub duration_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskFailed {
    #[serde(flatten)]
    pub meta: EventMeta,
    #[serde(with = "crate::uuid_text")]
    pub task_id: Uuid,
    pub attempt: i32,
    pub error: String,
    pub retryable: bool,
    /// True when no further attempt will be made: this is the task's terminal event.
    #[serde(rename = "final")]
    pub is_final: bool,
    pub next_attempt_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCancelled {
    #[serde(flatten)]
    pub meta: EventMeta,
    #[serde(with = "crate::uuid_text")]
    pub task_id: Uuid,
    pub attempt: Option<i32>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledTaskTriggered {
    #[serde(flatten)]
    pub meta: EventMeta,
    #[serde(with = "crate::uuid_text")]
    pub schedule_id: Uuid,
    /// Milliseconds since the Unix epoch, UTC.
    pub fire_time: i64,
    #[serde(with = "crate::uuid_text")]
    pub task_id: Uuid,
    pub task_type: String,
    pub priority: Priority,
    pub payload_json: String,
    pub max_attempts: i32,
    pub timeout_ms: i64,
    pub labels: BTreeMap<String, String>,
    /// Overlap policy `cancel_other`: the schedule's previous run, to be cancelled before this
    /// instant's task is created. Absent in triggers written before the field existed.
    #[serde(default)]
    pub cancel_task_id: Option<String>,
}

/// The latest state of one task (svc-tasks' projection), for the compacted state topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskState {
    #[serde(flatten)]
    pub meta: EventMeta,
    #[serde(with = "crate::uuid_text")]
    pub task_id: Uuid,
    pub task_type: String,
    /// The API's spelling: scheduled, pending, running, retrying, completed, failed, cancelled.
    pub status: String,
    pub priority: Priority,
    pub attempts: i32,
    pub max_attempts: i32,
    pub cancel_requested: bool,
    /// Milliseconds since the Unix epoch, UTC (as every time below).
    pub created_at: i64,
    pub run_at: Option<i64>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub error: Option<String>,
    pub schedule_id: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub version: i32,
}

/// A trigger svc-tasks could not turn into a task, and why (nothing was created for it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledTaskRefused {
    #[serde(flatten)]
    pub meta: EventMeta,
    #[serde(with = "crate::uuid_text")]
    pub schedule_id: Uuid,
    /// Milliseconds since the Unix epoch, UTC.
    pub fire_time: i64,
    #[serde(with = "crate::uuid_text")]
    pub task_id: Uuid,
    pub reason: String,
}

/// An API key issued to a tenant, by its hash (the key itself never leaves svc-tasks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyIssued {
    #[serde(flatten)]
    pub meta: EventMeta,
    #[serde(with = "crate::uuid_text")]
    pub key_id: Uuid,
    /// Lower-case hex SHA-256 of the key text.
    pub key_sha256: String,
    pub key_prefix: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRevoked {
    #[serde(flatten)]
    pub meta: EventMeta,
    #[serde(with = "crate::uuid_text")]
    pub key_id: Uuid,
    pub reason: Option<String>,
}

/// A schedule's nominal instant that did not become a task, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleOccurrenceSkipped {
    #[serde(flatten)]
    pub meta: EventMeta,
    #[serde(with = "crate::uuid_text")]
    pub schedule_id: Uuid,
    /// Milliseconds since the Unix epoch, UTC.
    pub nominal_time: i64,
    /// overlap, missed, paused or ended.
    pub reason: String,
    pub detail: Option<String>,
}

impl ApiKeyIssued {
    /// `key_sha256` as the contract spells it: lower-case hex of the 32-byte digest.
    pub fn hash_hex(digest: &[u8]) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(digest.len() * 2);
        for b in digest {
            text.push(char::from(DIGITS[usize::from(b >> 4)]));
            text.push(char::from(DIGITS[usize::from(b & 0x0f)]));
        }
        text
    }

    /// The digest `key_sha256` names, or `None` when it is not 64 hex digits.
    pub fn key_hash(&self) -> Option<Vec<u8>> {
        let text = self.key_sha256.as_bytes();
        if text.len() != 64 {
            return None;
        }
        text.chunks(2)
            .map(|pair| {
                let pair = std::str::from_utf8(pair).ok()?;
                u8::from_str_radix(pair, 16).ok()
            })
            .collect()
    }
}
