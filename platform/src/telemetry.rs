//! One call sets up logs and traces: JSON lines on stdout (lowercase messages, facts in fields),
//! spans exported over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (and
//! `OTEL_TRACES_EXPORTER` is not `none`), and W3C trace context propagation either way so
//! `traceparent` travels through Kafka headers.
//!
//! The exporter reads the standard variables itself: `OTEL_EXPORTER_OTLP_ENDPOINT` (the base URL;
//! spans go to `/v1/traces` under it), `OTEL_BSP_SCHEDULE_DELAY` (how often a batch is sent,
//! 5000 ms by default; `make up TRACING=1` sets 200) and `OTEL_RESOURCE_ATTRIBUTES` (e.g.
//! `service.instance.id=executor-1`). `service.name` is the service's own name.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, fmt};

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("cannot build the OTLP span exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    #[error("a global tracing subscriber is already set: {0}")]
    AlreadySet(#[from] tracing_subscriber::util::TryInitError),
}

/// Flushes spans when dropped; keep it alive in `main`.
#[must_use = "dropping the guard stops span export"]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Err(error) = self.provider.shutdown() {
            eprintln!("telemetry: span export did not shut down cleanly: {error}");
        }
    }
}

/// Installs the global subscriber for `service` (e.g. `svc-tasks`). Filter with `RUST_LOG`
/// (default `info`).
pub fn init(service: &'static str) -> Result<TelemetryGuard, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let resource = Resource::builder().with_service_name(service).build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if exports_spans(crate::config::process_env) {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    let tracer = provider.tracer(service);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::registry()
        .with(filter)
        .with(
            fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(true),
        )
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .try_init()?;
    Ok(TelemetryGuard { provider })
}

/// Whether spans are exported: an OTLP endpoint is set (an empty value counts as unset, as the
/// OpenTelemetry specification says) and `OTEL_TRACES_EXPORTER` does not say `none`.
fn exports_spans(var: impl Fn(&str) -> Option<String>) -> bool {
    let endpoint = [
        var("OTEL_EXPORTER_OTLP_ENDPOINT"),
        var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
    ]
    .into_iter()
    .flatten()
    .any(|v| !v.trim().is_empty());
    let disabled = var("OTEL_TRACES_EXPORTER").is_some_and(|v| v.trim() == "none");
    endpoint && !disabled
}

#[cfg(test)]
mod tests {
    use super::exports_spans;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn spans_are_exported_only_to_a_configured_endpoint_unless_switched_off() {
        let url = "http://127.0.0.1:14318";
        assert!(!exports_spans(env(&[])));
        assert!(!exports_spans(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "")])));
        assert!(exports_spans(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", url)])));
        assert!(exports_spans(env(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            url
        )])));
        assert!(exports_spans(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", url),
            ("OTEL_TRACES_EXPORTER", "otlp")
        ])));
        assert!(!exports_spans(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", url),
            ("OTEL_TRACES_EXPORTER", "none")
        ])));
    }
}
