//! Every metric TaskFlow exports, in one `taskflow_` namespace, and the registry they live in.
//! Services reach them as `metrics::...` (re-exported there); they sit in a module of their own
//! because the consumer, the dead letters and the outbox relay count into them while the
//! `/metrics` endpoint reads the outbox: defined beside the endpoint, they would tie the
//! pipeline and the endpoint in a circle.
//!
//! Counters are incremented after the effect they count is durable (a submission committed, an
//! outcome recorded), so a retried transaction is not counted twice. No metric is labelled by
//! tenant: label values come from small fixed sets (task types of the catalogue, statuses,
//! routes, topics), so cardinality stays bounded whatever the tenants do; per-tenant numbers
//! are in each service's admin/overview endpoints instead.

use std::sync::LazyLock;

use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

/// The registry every TaskFlow metric lives in (plus the process collector on Linux).
pub static REGISTRY: LazyLock<Registry> = LazyLock::new(|| {
    let registry =
        Registry::new_custom(Some("taskflow".into()), None).unwrap_or_else(|_| Registry::new());
    #[cfg(target_os = "linux")]
    {
        // Under the process' own names (process_cpu_seconds_total, ...), as Prometheus expects.
        let _ = prometheus::default_registry().register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ));
    }
    registry
});

fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let counter = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| unreachable!("metric {name}: {e}"));
    let _ = REGISTRY.register(Box::new(counter.clone()));
    counter
}

fn histogram(name: &str, help: &str, labels: &[&str], buckets: Vec<f64>) -> HistogramVec {
    let histogram = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
        .unwrap_or_else(|e| unreachable!("metric {name}: {e}"));
    let _ = REGISTRY.register(Box::new(histogram.clone()));
    histogram
}

fn gauge(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let gauge = IntGaugeVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| unreachable!("metric {name}: {e}"));
    let _ = REGISTRY.register(Box::new(gauge.clone()));
    gauge
}

fn int_gauge(name: &str, help: &str) -> IntGauge {
    let gauge = IntGauge::new(name, help).unwrap_or_else(|e| unreachable!("metric {name}: {e}"));
    let _ = REGISTRY.register(Box::new(gauge.clone()));
    gauge
}

fn float_gauge(name: &str, help: &str) -> Gauge {
    let gauge = Gauge::new(name, help).unwrap_or_else(|e| unreachable!("metric {name}: {e}"));
    let _ = REGISTRY.register(Box::new(gauge.clone()));
    gauge
}

/// Seconds, from a millisecond to ten minutes.
fn latency_buckets() -> Vec<f64> {
    vec![
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
        300.0, 600.0,
    ]
}

// --- HTTP (every service) -----------------------------------------------------------------

pub static HTTP_REQUEST_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram(
        "http_request_duration_seconds",
        "HTTP requests by method, route template and status, with their duration",
        &["method", "route", "status"],
        latency_buckets(),
    )
});

// --- tasks (svc-tasks) --------------------------------------------------------------------

pub static TASKS_SUBMITTED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "tasks_submitted_total",
        "Tasks accepted (committed), by type, priority and source (api, schedule)",
        &["type", "priority", "source"],
    )
});

pub static TASKS_FINISHED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "tasks_finished_total",
        "Tasks that reached a terminal status, by type and status (counted once per task)",
        &["type", "status"],
    )
});

pub static TASK_QUEUE_WAIT: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram(
        "task_queue_wait_seconds",
        "From when a task could run (creation, or its run_at) to its first attempt's start",
        &["type"],
        latency_buckets(),
    )
});

pub static TASK_RUN: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram(
        "task_run_seconds",
        "Duration of each attempt whose outcome was recorded, by type",
        &["type"],
        latency_buckets(),
    )
});

// --- execution (svc-executor) -------------------------------------------------------------

pub static TASK_ATTEMPTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "task_attempts_total",
        "Attempts whose outcome was recorded, by type and outcome",
        &["type", "outcome"],
    )
});

pub static QUEUE_DEPTH: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    gauge(
        "queue_depth",
        "Executions by state (queued = waiting or due; running = leased), read when scraped",
        &["state"],
    )
});

pub static OLDEST_READY_AGE: LazyLock<Gauge> = LazyLock::new(|| {
    float_gauge(
        "oldest_ready_task_age_seconds",
        "How long the oldest due, unclaimed execution has been due, read when scraped",
    )
});

// --- pipeline (every service) -------------------------------------------------------------

pub static OUTBOX_BACKLOG: LazyLock<IntGauge> = LazyLock::new(|| {
    int_gauge(
        "outbox_backlog",
        "Outbox rows not yet published, read when scraped",
    )
});

pub static OUTBOX_OLDEST_AGE: LazyLock<Gauge> = LazyLock::new(|| {
    float_gauge(
        "outbox_oldest_age_seconds",
        "Age of the oldest unpublished outbox row, read when scraped",
    )
});

pub static CONSUMER_LAG: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    gauge(
        "consumer_lag",
        "Records behind the end of each topic, summed over the partitions this process holds (librdkafka statistics, every 5 s)",
        &["topic", "group"],
    )
});

pub static EVENTS_CONSUMED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "events_consumed_total",
        "Records whose batch was handled (offset stored), by topic and group",
        &["topic", "group"],
    )
});

pub static DEAD_LETTERS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "dead_letters_total",
        "Records parked on a dead-letter topic, by dead-letter topic",
        &["topic"],
    )
});

pub static PRUNED_ROWS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "pruned_rows_total",
        "Rows deleted by retention (the maintenance room), by table",
        &["table"],
    )
});

// --- live feed (svc-notify) ---------------------------------------------------------------

pub static SSE_CLIENTS: LazyLock<IntGauge> =
    LazyLock::new(|| int_gauge("sse_clients", "Open SSE and WebSocket streams"));

// --- schedules (svc-scheduler) ------------------------------------------------------------

pub static SCHEDULE_OCCURRENCES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "schedule_occurrences_total",
        "Nominal instants decided, by outcome (triggered, skipped, missed, refused)",
        &["outcome"],
    )
});

pub static SCHEDULE_FIRE_DELAY: LazyLock<Histogram> = LazyLock::new(|| {
    let histogram = Histogram::with_opts(
        HistogramOpts::new(
            "schedule_fire_delay_seconds",
            "From an instant's planned fire time (nominal + jitter) to its decision",
        )
        .buckets(latency_buckets()),
    )
    .unwrap_or_else(|e| unreachable!("metric schedule_fire_delay_seconds: {e}"));
    let _ = REGISTRY.register(Box::new(histogram.clone()));
    histogram
});

/// Every metric in the Prometheus text format: TaskFlow's, then the process'.
pub fn render() -> String {
    // Touch the lazily registered metrics so that a scrape lists them all from the start.
    let _ = (
        &*HTTP_REQUEST_DURATION,
        &*TASKS_SUBMITTED,
        &*TASKS_FINISHED,
        &*TASK_QUEUE_WAIT,
        &*TASK_RUN,
        &*TASK_ATTEMPTS,
        &*QUEUE_DEPTH,
        &*OLDEST_READY_AGE,
        &*OUTBOX_BACKLOG,
        &*OUTBOX_OLDEST_AGE,
        &*CONSUMER_LAG,
        &*EVENTS_CONSUMED,
        &*DEAD_LETTERS,
        &*SSE_CLIENTS,
        &*SCHEDULE_OCCURRENCES,
        &*SCHEDULE_FIRE_DELAY,
    );
    let mut families = REGISTRY.gather();
    families.extend(prometheus::default_registry().gather());
    let mut out = Vec::new();
    if TextEncoder::new().encode(&families, &mut out).is_err() {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}
