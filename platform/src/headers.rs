//! Kafka record headers TaskFlow writes on every event, and W3C trace context through them.

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, Injector};
use rdkafka::message::{BorrowedHeaders, Header, Headers, OwnedHeaders};
use taskflow_schemas::Event;
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub const EVENT_TYPE: &str = "event_type";
pub const EVENT_ID: &str = "event_id";
pub const CORRELATION_ID: &str = "correlation_id";
pub const TRACEPARENT: &str = "traceparent";
pub const TRACESTATE: &str = "tracestate";

/// W3C trace context as carried in `traceparent`/`tracestate` headers (and outbox rows).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceContext {
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
}

/// Headers for `event`, with the current span's trace context when tracing exports spans.
pub fn for_event(event: &Event) -> OwnedHeaders {
    for_event_in(event, &current_trace())
}

/// Headers for `event` carrying `trace` (the context stored with an outbox row).
pub fn for_event_in(event: &Event, trace: &TraceContext) -> OwnedHeaders {
    let meta = event.meta();
    let event_id = meta.event_id.to_string();
    let mut headers = OwnedHeaders::new_with_capacity(5)
        .insert(Header {
            key: EVENT_TYPE,
            value: Some(event.kind().name()),
        })
        .insert(Header {
            key: EVENT_ID,
            value: Some(&event_id),
        })
        .insert(Header {
            key: CORRELATION_ID,
            value: Some(&meta.correlation_id),
        });
    for (key, value) in [
        (TRACEPARENT, &trace.traceparent),
        (TRACESTATE, &trace.tracestate),
    ] {
        if let Some(value) = value {
            headers = headers.insert(Header {
                key,
                value: Some(value.as_str()),
            });
        }
    }
    headers
}

/// The current span's trace context (empty fields when there is no valid trace).
pub fn current_trace() -> TraceContext {
    current_trace_in(&tracing::Span::current())
}

/// The trace context of `span` (empty fields when there is no valid trace).
pub fn current_trace_in(span: &tracing::Span) -> TraceContext {
    let mut carrier = trace_context_of(span);
    TraceContext {
        traceparent: carrier.remove(TRACEPARENT),
        tracestate: carrier.remove(TRACESTATE).filter(|s| !s.is_empty()),
    }
}

fn trace_context_of(span: &tracing::Span) -> HashMap<String, String> {
    let context = span.context();
    let mut carrier = MapCarrier::default();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&context, &mut carrier));
    carrier.0
}

/// The trace id of a W3C `traceparent` (`00-<trace id>-<span id>-<flags>`), if well formed.
pub fn trace_id_of(traceparent: &str) -> Option<&str> {
    let mut parts = traceparent.split('-');
    let (_version, trace_id) = (parts.next()?, parts.next()?);
    let valid = trace_id.len() == 32
        && trace_id.bytes().all(|b| b.is_ascii_hexdigit())
        && trace_id.bytes().any(|b| b != b'0');
    valid.then_some(trace_id)
}

/// Reads header `key` as UTF-8.
pub fn get<'a>(headers: Option<&'a BorrowedHeaders>, key: &str) -> Option<&'a str> {
    headers?
        .iter()
        .find(|h| h.key == key)
        .and_then(|h| h.value)
        .and_then(|v| std::str::from_utf8(v).ok())
}

/// Makes the trace context carried by a record's headers the parent of `span`.
pub fn adopt_trace_context(
    span: &tracing::Span,
    traceparent: Option<&str>,
    tracestate: Option<&str>,
) {
    let Some(traceparent) = traceparent else {
        return;
    };
    let mut carrier = MapCarrier::default();
    carrier.0.insert(TRACEPARENT.into(), traceparent.into());
    if let Some(state) = tracestate {
        carrier.0.insert(TRACESTATE.into(), state.into());
    }
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&carrier));
    // Fails only when no OpenTelemetry layer is installed; then there is nothing to link.
    let _ = span.set_parent(parent);
}

#[derive(Default)]
struct MapCarrier(HashMap<String, String>);

impl Injector for MapCarrier {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

impl Extractor for MapCarrier {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}
