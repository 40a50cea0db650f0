//! Request and response bodies of the public API.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Number, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::submission::{Submission, priority_name};
use crate::domain::{TaskStatus, TaskView};
use crate::store::{StoredEvent, TenantRow};

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

// ---- how request bodies are read ---------------------------------------------------------
//
// serde's derived structs also accept a JSON array of the fields in order, and integer fields
// refuse `30000.0`; JSON (and the OpenAPI document) say the opposite: an object is an object,
// and 30000.0 is the integer 30000. These helpers make the server read bodies as documented.

/// A request body or member that must be a JSON object.
#[derive(Debug, Clone, Default)]
pub struct Obj<T>(pub T);

impl<'de, T: DeserializeOwned> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        object(d).map(Obj)
    }
}

fn object<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<T, D::Error> {
    let map = serde_json::Map::<String, Value>::deserialize(d)?;
    T::deserialize(Value::Object(map)).map_err(D::Error::custom)
}

fn objects<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Vec<T>, D::Error> {
    Vec::<Obj<T>>::deserialize(d).map(|items| items.into_iter().map(|o| o.0).collect())
}

/// The integer a JSON number stands for (`5` and `5.0` alike), if it is one.
pub fn whole_number(n: &Number) -> Option<i64> {
    n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0)
            .map(|f| f as i64)
    })
}

fn integer<E: serde::de::Error, T: TryFrom<i64>>(n: &Number) -> Result<T, E> {
    let whole = whole_number(n).ok_or_else(|| E::custom(format!("{n} is not an integer")))?;
    T::try_from(whole).map_err(|_| E::custom(format!("{n} is out of range")))
}

fn opt_int<'de, D: Deserializer<'de>, T: TryFrom<i64>>(d: D) -> Result<Option<T>, D::Error> {
    Option::<Number>::deserialize(d)?
        .map(|n| integer(&n))
        .transpose()
}

/// Absent: leave as is (`None`); `null`: remove the limit (`Some(None)`).
fn present_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i32>>, D::Error> {
    opt_int(d).map(Some)
}

/// `5.0` becomes `5` anywhere in a payload: the same JSON number, and what a handler reading
/// an integer field expects.
pub fn normalize_integers(value: &mut Value) {
    match value {
        Value::Number(n) if n.as_i64().is_none() && n.as_u64().is_none() => {
            if let Some(whole) = whole_number(n) {
                *n = Number::from(whole);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize_integers),
        Value::Object(map) => map.values_mut().for_each(normalize_integers),
        _ => {}
    }
}

/// A task to run.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitTask {
    /// Task type from the catalogue: `http`, `sleep`, `noop`, `fail`.
    #[serde(rename = "type")]
    pub task_type: String,
    /// Input of the task, checked against the type's JSON Schema (`schemas/tasks/`).
    #[serde(default = "empty_object")]
    pub payload: Value,
    /// `low`, `normal` (default), `high` or `critical`.
    pub priority: Option<String>,
    /// Attempts before the task fails for good; default 3.
    #[serde(default, deserialize_with = "opt_int")]
    pub max_attempts: Option<i32>,
    /// Per-attempt timeout in milliseconds; default 30000.
    #[serde(default, deserialize_with = "opt_int")]
    pub timeout_ms: Option<i64>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// When to run (RFC 3339), up to 365 days ahead and at most 60 s in the past; not with
    /// `delay_ms`. Absent: as soon as possible.
    pub run_at: Option<String>,
    /// Or: milliseconds after submission to run, 0..=31536000000 (365 days).
    #[serde(default, deserialize_with = "opt_int")]
    pub delay_ms: Option<i64>,
}

impl SubmitTask {
    pub fn into_submission(mut self) -> Submission {
        normalize_integers(&mut self.payload);
        Submission {
            task_type: self.task_type,
            payload: self.payload,
            priority: self.priority,
            max_attempts: self.max_attempts,
            timeout_ms: self.timeout_ms,
            labels: self.labels,
            run_at: self.run_at,
            delay_ms: self.delay_ms,
        }
    }
}

/// One item of a batch: the fields of a single submission plus its own idempotency key.
/// (Spelled out rather than flattened: serde cannot refuse unknown fields through a flatten.)
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchItem {
    #[serde(rename = "type")]
    pub task_type: String,
    #[serde(default = "empty_object")]
    pub payload: Value,
    pub priority: Option<String>,
    #[serde(default, deserialize_with = "opt_int")]
    pub max_attempts: Option<i32>,
    #[serde(default, deserialize_with = "opt_int")]
    pub timeout_ms: Option<i64>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// When to run (RFC 3339), up to 365 days ahead and at most 60 s in the past; not with
    /// `delay_ms`. Absent: as soon as possible.
    pub run_at: Option<String>,
    /// Or: milliseconds after submission to run, 0..=31536000000 (365 days).
    #[serde(default, deserialize_with = "opt_int")]
    pub delay_ms: Option<i64>,
    pub idempotency_key: Option<String>,
}

impl BatchItem {
    pub fn into_parts(self) -> (Submission, Option<String>) {
        let task = SubmitTask {
            task_type: self.task_type,
            payload: self.payload,
            priority: self.priority,
            max_attempts: self.max_attempts,
            timeout_ms: self.timeout_ms,
            labels: self.labels,
            run_at: self.run_at,
            delay_ms: self.delay_ms,
        };
        (task.into_submission(), self.idempotency_key)
    }
}

/// All tasks are created, or none.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitBatch {
    #[serde(deserialize_with = "objects")]
    pub tasks: Vec<BatchItem>,
}

#[derive(Debug, Clone, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CancelTask {
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Progress {
    pub percent: Option<i32>,
    pub message: Option<String>,
}

/// The OpenAPI schema `TaskStatus`, from `TaskStatus::ALL` (its crate, `taskflow-schemas`,
/// knows nothing of OpenAPI).
pub struct TaskStatusSchema;

impl utoipa::PartialSchema for TaskStatusSchema {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(TaskStatus::ALL.map(TaskStatus::as_str)))
            .into()
    }
}

impl ToSchema for TaskStatusSchema {
    fn name() -> std::borrow::Cow<'static, str> {
        "TaskStatus".into()
    }
}

/// A task as it stands now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskDto {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub task_type: String,
    #[schema(value_type = TaskStatusSchema)]
    pub status: TaskStatus,
    pub priority: String,
    pub payload: Value,
    pub labels: BTreeMap<String, String>,
    pub attempts: i32,
    pub max_attempts: i32,
    pub timeout_ms: i64,
    pub progress: Option<Progress>,
    pub result: Option<Value>,
    pub error: Option<String>,
    pub cancel_requested: bool,
    pub idempotency_key: Option<String>,
    pub correlation_id: String,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The schedule whose trigger created this task; null for a task submitted through the API.
    pub schedule_id: Option<Uuid>,
    /// The schedule's nominal instant this task is for (it may start later: jitter, queueing);
    /// null for a submitted task.
    pub fire_time: Option<DateTime<Utc>>,
    /// When the task is due: submitted with `run_at` or `delay_ms` (resolved at submission);
    /// null for a task to run as soon as possible.
    pub run_at: Option<DateTime<Utc>>,
}

impl From<TaskView> for TaskDto {
    fn from(t: TaskView) -> Self {
        let progress =
            (t.progress_percent.is_some() || t.progress_message.is_some()).then_some(Progress {
                percent: t.progress_percent,
                message: t.progress_message,
            });
        Self {
            id: t.id,
            task_type: t.task_type,
            status: t.status,
            priority: priority_name(t.priority).to_owned(),
            payload: t.payload,
            labels: t.labels,
            attempts: t.attempts,
            max_attempts: t.max_attempts,
            timeout_ms: t.timeout_ms,
            progress,
            result: t.result,
            error: t.error,
            cancel_requested: t.cancel_requested,
            idempotency_key: t.idempotency_key,
            correlation_id: t.correlation_id,
            next_attempt_at: t.next_attempt_at,
            created_at: t.created_at,
            updated_at: t.updated_at,
            started_at: t.started_at,
            finished_at: t.finished_at,
            schedule_id: t.schedule_id,
            fire_time: t.fire_time,
            run_at: t.run_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskList {
    pub tasks: Vec<TaskDto>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchCreated {
    pub tasks: Vec<TaskDto>,
}

/// One recorded fact about a task.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventDto {
    /// Position in the task's stream: 1 is its `TaskCreated`. A scheduled task's history opens
    /// with the `ScheduledTaskTriggered` that caused it at 0 (its `fire_time` is the nominal
    /// instant, in milliseconds); the TaskCreated names it as `causation_id`.
    #[schema(minimum = 0)]
    pub version: i32,
    pub event_id: Uuid,
    #[serde(rename = "type")]
    pub event_type: String,
    pub correlation_id: String,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    /// The event's fields as in its Avro contract.
    pub data: Value,
}

impl From<StoredEvent> for EventDto {
    fn from(e: StoredEvent) -> Self {
        Self {
            version: e.version,
            event_id: e.event_id,
            event_type: e.event_type,
            correlation_id: e.correlation_id,
            occurred_at: e.occurred_at,
            recorded_at: e.recorded_at,
            data: e.body,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventList {
    pub task_id: Uuid,
    pub events: Vec<EventDto>,
}

// ---- admin -------------------------------------------------------------------------------

/// Absent: leave as is; `null`: remove the limit.
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct Quotas {
    #[serde(default, deserialize_with = "present_int")]
    #[schema(value_type = Option<i32>)]
    pub max_active_tasks: Option<Option<i32>>,
    #[serde(default, deserialize_with = "present_int")]
    #[schema(value_type = Option<i32>)]
    pub submissions_per_minute: Option<Option<i32>>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    pub name: String,
    #[serde(default, deserialize_with = "object")]
    pub quotas: Quotas,
    /// Priorities the tenant may use; absent or null: all.
    pub allowed_priorities: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenant {
    #[serde(default, deserialize_with = "object")]
    pub quotas: Quotas,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub allowed_priorities: Option<Option<Vec<String>>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuotasDto {
    pub max_active_tasks: Option<i32>,
    pub submissions_per_minute: Option<i32>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TenantDto {
    pub tenant_id: Uuid,
    pub name: String,
    pub quotas: QuotasDto,
    pub allowed_priorities: Option<Vec<String>>,
    pub created_at: DateTime<Utc>,
}

impl From<TenantRow> for TenantDto {
    fn from(t: TenantRow) -> Self {
        Self {
            tenant_id: t.id,
            name: t.name,
            quotas: QuotasDto {
                max_active_tasks: t.max_active_tasks,
                submissions_per_minute: t.submissions_per_minute,
            },
            allowed_priorities: t.allowed_priorities,
            created_at: t.created_at,
        }
    }
}

/// The key is shown here once and cannot be retrieved again.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyIssued {
    pub tenant_id: Uuid,
    pub key_id: Uuid,
    pub api_key: String,
    pub key_prefix: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TenantCreated {
    #[serde(flatten)]
    pub tenant: TenantDto,
    pub key_id: Uuid,
    pub api_key: String,
}
