//! Words every service uses the same way: priority names and ranks, and the task types with
//! their payload schemas (`schemas/tasks/*.json`, embedded here so no crate reads another's
//! folder).

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
    fn every_task_type_schema_is_json() {
        for (name, schema) in TASK_TYPES {
            let parsed: serde_json::Value = serde_json::from_str(schema).expect(name);
            assert!(parsed.is_object(), "{name}");
        }
    }
}
