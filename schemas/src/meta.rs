use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Fields every event carries, flattened into each Avro record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMeta {
    #[serde(with = "crate::uuid_text")]
    pub event_id: Uuid,
    /// Milliseconds since the Unix epoch, UTC (Avro `timestamp-millis`).
    pub occurred_at: i64,
    pub correlation_id: String,
    pub causation_id: Option<String>,
    #[serde(with = "crate::uuid_text")]
    pub tenant_id: Uuid,
    pub producer: String,
}

impl EventMeta {
    /// Metadata for a fresh event: a new time-ordered id, stamped `occurred_at`.
    pub fn new(
        occurred_at: i64,
        correlation_id: impl Into<String>,
        tenant_id: Uuid,
        producer: impl Into<String>,
    ) -> Self {
        Self {
            event_id: Uuid::now_v7(),
            occurred_at,
            correlation_id: correlation_id.into(),
            causation_id: None,
            tenant_id,
            producer: producer.into(),
        }
    }

    /// Marks this event as caused by another one (keeps the correlation id chain intact).
    pub fn caused_by(mut self, cause: &EventMeta) -> Self {
        self.causation_id = Some(cause.event_id.to_string());
        self.correlation_id.clone_from(&cause.correlation_id);
        self
    }
}
