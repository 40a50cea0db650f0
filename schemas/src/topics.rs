//! Topic naming: `taskflow.<domain>.<stream>.v<major>`, optionally behind a prefix that
//! isolates one deployment (or one test) from another on a shared cluster.

/// A logical event stream. Each stream has exactly one producing service, and every event of
/// one task (or one schedule) travels on one stream keyed by that id, so their order holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// svc-tasks → TaskCreated, TaskCancelRequested, ScheduledTaskRefused.
    TaskRequests,
    /// svc-executor → TaskStarted, TaskProgressUpdated, TaskCompleted, TaskFailed, TaskCancelled.
    TaskExecution,
    /// svc-scheduler → ScheduledTaskTriggered, ScheduleOccurrenceSkipped.
    ScheduleTriggers,
    /// svc-tasks → ApiKeyIssued, ApiKeyRevoked. Compacted: keyed by key id, the latest state of
    /// every key stays readable from the start, so a new service can learn them all.
    TenantKeys,
    /// svc-tasks → TaskState. Compacted: keyed by task id, the latest state of every task.
    TaskStates,
    /// svc-scheduler → ScheduleCreated, ScheduleChanged, SchedulePaused, ScheduleResumed,
    /// ScheduleDeleted. Keyed by schedule id. Apart from the triggers, which svc-tasks consumes:
    /// it reads none of these.
    ScheduleLifecycle,
    /// svc-scheduler → ScheduleState. Compacted: keyed by schedule id, the latest state of every
    /// schedule (a deleted one's last record says so).
    ScheduleStates,
}

impl Stream {
    pub const ALL: [Stream; 7] = [
        Stream::TaskRequests,
        Stream::TaskExecution,
        Stream::ScheduleTriggers,
        Stream::TenantKeys,
        Stream::TaskStates,
        Stream::ScheduleLifecycle,
        Stream::ScheduleStates,
    ];

    pub fn base_name(self) -> &'static str {
        match self {
            Stream::TaskRequests => "taskflow.tasks.requests.v1",
            Stream::TaskExecution => "taskflow.execution.lifecycle.v1",
            Stream::ScheduleTriggers => "taskflow.scheduler.triggers.v1",
            Stream::TenantKeys => "taskflow.tenants.keys.v1",
            Stream::TaskStates => "taskflow.tasks.state.v1",
            Stream::ScheduleLifecycle => "taskflow.schedules.lifecycle.v1",
            Stream::ScheduleStates => "taskflow.schedules.state.v1",
        }
    }

    /// True for streams Kafka compacts (keeps the latest record per key) instead of expiring.
    pub fn is_compacted(self) -> bool {
        matches!(
            self,
            Stream::TenantKeys | Stream::TaskStates | Stream::ScheduleStates
        )
    }
}

/// Resolves stream names to topic names for one deployment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
}

impl Topics {
    /// `prefix` is prepended verbatim; use something like `"staging."` or `""`.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn name(&self, stream: Stream) -> String {
        format!("{}{}", self.prefix, stream.base_name())
    }

    /// Where a consumer group parks records it could not process, with the reason in headers.
    pub fn dead_letter(&self, consumer_group: &str) -> String {
        format!("{}taskflow.deadletter.{consumer_group}.v1", self.prefix)
    }

    /// The stream whose topic is `topic`, if it is one of ours.
    pub fn stream_of(&self, topic: &str) -> Option<Stream> {
        let base = topic.strip_prefix(&self.prefix)?;
        Stream::ALL.into_iter().find(|s| s.base_name() == base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_convention_and_round_trip() {
        let topics = Topics::new("t1.");
        for stream in Stream::ALL {
            let name = topics.name(stream);
            assert!(name.starts_with("t1.taskflow."), "{name}");
            assert!(name.ends_with(".v1"), "{name}");
            assert_eq!(topics.stream_of(&name), Some(stream));
        }
        assert_eq!(topics.stream_of("taskflow.tasks.requests.v1"), None);
        assert_eq!(
            topics.dead_letter("svc-executor"),
            "t1.taskflow.deadletter.svc-executor.v1"
        );
    }
}
