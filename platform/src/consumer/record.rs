//! What a handler is given (a decoded record with the trace it belongs to), and the raw copy it
//! is decoded from: records leave librdkafka's buffer before decoding, which may wait out a
//! registry outage while the buffer moves on.

use std::sync::Arc;

use rdkafka::message::{BorrowedMessage, Message};
use taskflow_schemas::Event;

use crate::headers;

/// A decoded event and where it came from.
#[derive(Debug, Clone)]
pub struct ConsumedRecord {
    pub event: Event,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
    /// The consumer group that read it.
    pub group: Arc<str>,
}

impl ConsumedRecord {
    /// The span a handler processes this record in: a child of the trace the record carries
    /// (its `traceparent` header), named and attributed per the OpenTelemetry messaging
    /// semantic conventions (v1.27: `messaging.system`, `messaging.destination.name`, ...), with
    /// `trace_id` as a field so every log line written inside it names the trace.
    pub fn span(&self) -> tracing::Span {
        let meta = self.event.meta();
        let span = tracing::info_span!(
            "process",
            otel.name = %format!("process {}", self.topic),
            otel.kind = "consumer",
            messaging.system = "kafka",
            messaging.operation.type = "process",
            messaging.destination.name = %self.topic,
            messaging.destination.partition.id = %self.partition,
            messaging.kafka.offset = self.offset,
            messaging.consumer.group.name = %self.group,
            messaging.message.id = %meta.event_id,
            messaging.kafka.message.key = %self.event.key(),
            event_type = self.event.kind().name(),
            correlation_id = %meta.correlation_id,
            trace_id = tracing::field::Empty,
        );
        headers::adopt_trace_context(
            &span,
            self.traceparent.as_deref(),
            self.tracestate.as_deref(),
        );
        if let Some(trace_id) = self.traceparent.as_deref().and_then(headers::trace_id_of) {
            span.record("trace_id", trace_id);
        }
        span
    }
}

/// A record copied out of librdkafka's buffer, before decoding.
pub(super) struct RawRecord {
    pub(super) topic: String,
    pub(super) partition: i32,
    pub(super) offset: i64,
    pub(super) key: Option<Vec<u8>>,
    pub(super) payload: Option<Vec<u8>>,
    pub(super) traceparent: Option<String>,
    pub(super) tracestate: Option<String>,
}

impl RawRecord {
    pub(super) fn copy(message: &BorrowedMessage<'_>) -> Self {
        let hdrs = message.headers();
        Self {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map(<[u8]>::to_vec),
            traceparent: headers::get(hdrs, headers::TRACEPARENT).map(str::to_owned),
            tracestate: headers::get(hdrs, headers::TRACESTATE).map(str::to_owned),
        }
    }
}
