use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::schema::{occurrences, schedules};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = schedules, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
pub struct ScheduleRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub definition: serde_json::Value,
    pub paused: bool,
    pub anchor: DateTime<Utc>,
    pub next_nominal: Option<DateTime<Utc>>,
    pub next_fire_at: Option<DateTime<Utc>>,
    pub waiting_for_task: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = occurrences, check_for_backend(diesel::pg::Pg))]
pub struct OccurrenceRow {
    pub schedule_id: Uuid,
    pub nominal_time: DateTime<Utc>,
    pub outcome: String,
    pub reason: Option<String>,
    pub task_id: Option<Uuid>,
    pub task_ended: bool,
    pub fired_at: DateTime<Utc>,
}
