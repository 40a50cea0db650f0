//! A schedule's lifecycle (`taskflow.schedules.lifecycle.v1`) and its latest state (the
//! compacted `taskflow.schedules.state.v1`), one struct per `.avsc` file. Every one of them
//! carries the schedule's settings whole ([`ScheduleSettings`], flattened into the record like
//! [`EventMeta`]): a reader of any single event knows the schedule without replaying the others.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::events::Priority;
use crate::meta::EventMeta;

/// What a tenant sets about a schedule, as it stands after the event. Times are milliseconds
/// since the Unix epoch, UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleSettings {
    pub name: String,
    /// Exactly one of `cron`, `every`, `at` is set.
    pub cron: Option<String>,
    /// The zone of a cron spec (UTC when none was named); `None` for `every` and `at`.
    pub timezone: Option<String>,
    pub every: Option<String>,
    pub at: Option<i64>,
    pub start_at: Option<i64>,
    pub end_at: Option<i64>,
    pub jitter: Option<String>,
    /// skip, buffer_one, buffer_all, cancel_other or allow_all.
    pub overlap: String,
    pub catchup_window: Option<String>,
    pub paused: bool,
    pub note: Option<String>,
    pub task_type: String,
    pub priority: Priority,
    pub payload_json: String,
    pub max_attempts: i32,
    pub timeout_ms: i64,
    pub labels: BTreeMap<String, String>,
    pub anchor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleCreated {
    #[serde(flatten)]
    pub meta: EventMeta,
    #[serde(with = "crate::uuid_text")]
    pub schedule_id: Uuid,
    #[serde(flatten)]
    pub settings: ScheduleSettings,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleChanged {
    #[serde(flatten)]
    pub meta: EventMeta,
    #[serde(with = "crate::uuid_text")]
    pub schedule_id: Uuid,
    #[serde(flatten)]
    pub settings: ScheduleSettings,
    /// The API names of the settings the change altered.
    #[serde(default)]
    pub changed_fields: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulePaused {
    #[serde(flatten)]
    pub meta: EventMeta,
    #[serde(with = "crate::uuid_text")]
    pub schedule_id: Uuid,
    #[serde(flatten)]
    pub settings: ScheduleSettings,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleResumed {
    #[serde(flatten)]
    pub meta: EventMeta,
    #[serde(with = "crate::uuid_text")]
    pub schedule_id: Uuid,
    #[serde(flatten)]
    pub settings: ScheduleSettings,
    /// Instants that passed while paused (recorded as skipped occurrences).
    pub skipped_instants: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleDeleted {
    #[serde(flatten)]
    pub meta: EventMeta,
    #[serde(with = "crate::uuid_text")]
    pub schedule_id: Uuid,
    #[serde(flatten)]
    pub settings: ScheduleSettings,
}

/// A schedule as it stands, for the compacted state topic; `deleted` marks its last record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleState {
    #[serde(flatten)]
    pub meta: EventMeta,
    #[serde(with = "crate::uuid_text")]
    pub schedule_id: Uuid,
    #[serde(flatten)]
    pub settings: ScheduleSettings,
    pub deleted: bool,
    pub created_at: i64,
    pub updated_at: i64,
}
