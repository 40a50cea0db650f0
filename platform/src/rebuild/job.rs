//! A rebuild job as clients see it: its JSON (and OpenAPI schema) and its states.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// Where a job is in its life. Stored as [`JobState::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Running,
    Succeeded,
    Failed,
}

impl JobState {
    pub const ALL: [JobState; 3] = [JobState::Running, JobState::Succeeded, JobState::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == s)
    }
}

/// A projection rebuild job: what `POST /v1/admin/projections/rebuild` and
/// `GET /v1/admin/projections/rebuild/{job_id}` answer.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RebuildJob {
    pub job_id: Uuid,
    pub state: JobState,
    /// What `total` and `done` count: `tasks`, `executions`, `schedules`...
    pub unit: String,
    /// Units this job refolds (those that existed when it started); `null` until counted. Units
    /// created later are projected live and need no refold.
    pub total: Option<i64>,
    /// Units refolded so far (committed page by page).
    pub done: i64,
    pub started_at: DateTime<Utc>,
    /// Last progress.
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it failed.
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_back_as_written() {
        for state in JobState::ALL {
            assert_eq!(JobState::parse(state.as_str()), Some(state));
            assert_eq!(
                serde_json::to_value(state).expect("json"),
                serde_json::Value::from(state.as_str())
            );
        }
        assert_eq!(JobState::parse("queued"), None);
    }
}
