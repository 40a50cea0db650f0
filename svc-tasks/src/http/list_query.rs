//! The query of `GET /v1/tasks`: its parameters, their checks, and the keyset cursor that
//! pages through the list.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use taskflow_platform::http::rejections::invalid_query;
use uuid::Uuid;

use super::dto::TaskDto;
use super::errors::ApiError;
use crate::domain::TaskStatus;
use crate::domain::submission::parse_priority;
use crate::domain::text::{NUL_MESSAGE, storable};
use crate::store::ListFilter;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// scheduled, pending, running, retrying, completed, failed, cancelled
    pub status: Option<String>,
    #[serde(rename = "type")]
    pub task_type: Option<String>,
    pub priority: Option<String>,
    /// RFC 3339 timestamp
    pub created_after: Option<String>,
    /// 1..=500, default 50
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

fn bad_query(parameter: &str, detail: String) -> ApiError {
    ApiError(invalid_query(detail).with("parameter", parameter))
}

/// `<created_at in microseconds since 1970>-<id as 32 hex digits>`: the keyset position after
/// `task`. Opaque to clients, but its shape is in the OpenAPI document (`CURSOR_PATTERN`), so
/// that every string of that shape is a cursor this API accepts.
pub(super) fn encode_cursor(task: &TaskDto) -> String {
    format!(
        "{}-{}",
        task.created_at.timestamp_micros().max(0),
        task.id.simple()
    )
}

pub const CURSOR_PATTERN: &str = "^[0-9]{1,16}-[0-9a-f]{32}$";

fn decode_cursor(cursor: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let (micros, id) = cursor.split_once('-')?;
    let shaped = (1..=16).contains(&micros.len())
        && micros.bytes().all(|b| b.is_ascii_digit())
        && id.len() == 32
        && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !shaped {
        return None;
    }
    Some((
        DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        Uuid::try_parse(id).ok()?,
    ))
}

impl ListQuery {
    pub(super) fn into_filter(self) -> Result<ListFilter, ApiError> {
        if let Some(t) = &self.task_type
            && !storable(t)
        {
            return Err(bad_query("type", format!("type {NUL_MESSAGE}")));
        }
        if let Some(s) = &self.status
            && TaskStatus::parse(s).is_none()
        {
            return Err(bad_query("status", format!("{s:?} is not a task status")));
        }
        if let Some(p) = &self.priority
            && parse_priority(p).is_none()
        {
            return Err(bad_query(
                "priority",
                format!("{p:?} is not one of low, normal, high, critical"),
            ));
        }
        let created_after = self
            .created_after
            .as_deref()
            .map(|s| {
                DateTime::parse_from_rfc3339(s)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| {
                        bad_query(
                            "created_after",
                            format!("{s:?} is not an RFC 3339 time: {e}"),
                        )
                    })
            })
            .transpose()?;
        let limit = self.limit.unwrap_or(50);
        if !(1..=500).contains(&limit) {
            return Err(bad_query("limit", format!("{limit} is outside 1..=500")));
        }
        let before = self
            .cursor
            .as_deref()
            .map(|c| {
                decode_cursor(c).ok_or_else(|| {
                    bad_query(
                        "cursor",
                        "not a cursor this API issued (pass next_cursor unchanged)".into(),
                    )
                })
            })
            .transpose()?;
        Ok(ListFilter {
            status: self.status,
            task_type: self.task_type,
            priority: self.priority,
            created_after,
            before,
            limit,
        })
    }
}
