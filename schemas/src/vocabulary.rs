//! Words every service uses the same way: priority names and ranks, a task's status, and the
//! task types with their payload schemas (`schemas/tasks/*.json`, embedded here so no crate
//! reads another's folder).

use serde::{Deserialize, Serialize};

use crate::events::Priority;

impl Priority {
    /// Lowest first.
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Critical,
    ];

    /// The name in the HTTP API and the CLI: `low`, `normal`, `high`, `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Critical => "critical",
        }
    }

    pub fn parse(name: &str) -> Option<Priority> {
        Priority::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// 0 (low) ..= 3 (critical): `ORDER BY rank DESC` starts the most urgent first.
    pub fn rank(self) -> i16 {
        match self {
            Priority::Low => 0,
            Priority::Normal => 1,
            Priority::High => 2,
            Priority::Critical => 3,
        }
    }
}

/// Where a task stands: the word svc-tasks' API, svc-notify's dashboard and both services'
/// `status` columns use (`as_str`, which is also the serde name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Created with a `run_at` in the future: waits for it (it can be cancelled meanwhile).
    Scheduled,
    Pending,
    Running,
    /// An attempt failed and another is scheduled (`next_attempt_at`).
    Retrying,
    Completed,
    Failed,
    Cancelled,
}

impl TaskStatus {
    /// In the order a task goes through them; the dashboard shows its counts in this order.
    pub const ALL: [TaskStatus; 7] = [
        TaskStatus::Scheduled,
        TaskStatus::Pending,
        TaskStatus::Running,
        TaskStatus::Retrying,
        TaskStatus::Completed,
        TaskStatus::Failed,
        TaskStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Scheduled => "scheduled",
            TaskStatus::Pending => "pending",
            TaskStatus::Running => "running",
            TaskStatus::Retrying => "retrying",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(name: &str) -> Option<TaskStatus> {
        TaskStatus::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Nothing happens to the task any more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Cancelled
        )
    }
}

/// The built-in task types and the JSON Schema (draft 2020-12) of each one's payload.
pub const TASK_TYPES: [(&str, &str); 4] = [
    ("http", include_str!("../tasks/http.json")),
    ("sleep", include_str!("../tasks/sleep.json")),
    ("noop", include_str!("../tasks/noop.json")),
    ("fail", include_str!("../tasks/fail.json")),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_round_trip_through_their_names_and_rank_in_order() {
        for p in Priority::ALL {
            assert_eq!(Priority::parse(p.as_str()), Some(p));
        }
        assert_eq!(Priority::parse("urgent"), None);
        let ranks: Vec<i16> = Priority::ALL.iter().map(|p| p.rank()).collect();
        assert_eq!(ranks, [0, 1, 2, 3]);
    }

    #[test]
    fn statuses_round_trip_through_their_names_and_serde_uses_the_same_words() {
        for s in TaskStatus::ALL {
            assert_eq!(TaskStatus::parse(s.as_str()), Some(s));
            let json = serde_json::to_value(s).expect("serializes");
            assert_eq!(json, serde_json::Value::from(s.as_str()));
            let back: TaskStatus = serde_json::from_value(json).expect("deserializes");
            assert_eq!(back, s);
        }
        assert_eq!(TaskStatus::parse("Running"), None);
        assert_eq!(TaskStatus::parse("done"), None);
        let names: Vec<&str> = TaskStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "scheduled",
                "pending",
                "running",
                "retrying",
                "completed",
                "failed",
                "cancelled"
            ]
        );
    }

    #[test]
    fn only_completed_failed_and_cancelled_are_terminal() {
        let terminal: Vec<TaskStatus> = TaskStatus::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(
            terminal,
            [
                TaskStatus::Completed,
                TaskStatus::Failed,
                TaskStatus::Cancelled
            ]
        );
    }

    #[test]
    fn every_task_type_schema_is_json() {
        for (name, schema) in TASK_TYPES {
            let parsed: serde_json::Value = serde_json::from_str(schema).expect(name);
            assert!(parsed.is_object(), "{name}");
        }
    }
}
