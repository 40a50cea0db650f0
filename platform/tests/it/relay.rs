//! The outbox relay against a real database and broker: one pass at a time across instances,
//! woken by another instance's commit, and the trace context stored with a row travels with it.

use std::sync::Arc;
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use taskflow_platform::db::DbPool;
use taskflow_platform::outbox::{self, OutboxError, Pass, Relay};
use taskflow_platform::testing::wait_until;
use taskflow_schemas::samples::one_of_each;
use taskflow_schemas::{Event, Stream};
use tokio::sync::Notify;

use crate::helpers::{TestBus, platform_db};

async fn enqueue_all(pool: &DbPool, events: &[Event]) {
    let mut conn = pool.get().await.expect("conn");
    let events = events.to_vec();
    conn.transaction::<_, OutboxError, _>(async move |conn| {
        for event in &events {
            outbox::enqueue(conn, event).await?;
        }
        Ok(())
    })
    .await
    .expect("enqueued");
}

async fn unpublished(pool: &DbPool) -> i64 {
    let mut conn = pool.get().await.expect("conn");
    outbox::backlog(&mut conn).await.expect("backlog").0
}

fn relay(pool: &DbPool, bus: &TestBus, idle_poll: Duration) -> Relay {
    Relay {
        db: pool.clone(),
        producer: bus.producer.clone(),
        ready: Arc::new(Notify::new()),
        idle_poll,
    }
}

fn execution_events() -> Vec<Event> {
    one_of_each()
        .into_iter()
        .filter(|e| e.kind().stream() == Stream::TaskExecution)
        .collect()
}

/// While one relay is in a pass (holds the turn), another relay's pass publishes nothing; once
/// the first pass ends, the second publishes everything.
#[tokio::test(flavor = "multi_thread")]
async fn only_one_relay_publishes_at_a_time() {
    let bus = TestBus::start().await;
    let pool = platform_db("outbox").await;
    enqueue_all(&pool, &execution_events()).await;
    let second = relay(&pool, &bus, Duration::from_secs(60));

    let mut holder = pool.get().await.expect("conn");
    let holder: &mut AsyncPgConnection = &mut holder;
    let during = holder
        .transaction::<_, OutboxError, _>(async |conn| {
            assert!(outbox::take_relay_turn(conn, Duration::from_secs(10)).await?);
            second.pass_with_turn().await
        })
        .await
        .expect("pass");
    assert_eq!(during, Pass::NotMyTurn);
    assert_eq!(unpublished(&pool).await, 5);

    let after = second.pass_with_turn().await.expect("pass");
    assert_eq!(after, Pass::Published(5));
    assert_eq!(unpublished(&pool).await, 0);
}

/// A relay whose own process wrote nothing wakes on the outbox notification of another
/// connection's commit, long before its idle poll.
#[tokio::test(flavor = "multi_thread")]
async fn a_relay_wakes_on_another_instances_commit() {
    let bus = TestBus::start().await;
    let pool = platform_db("outbox").await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(
        relay(&pool, &bus, Duration::from_secs(3600)).run(async move {
            let _ = stopped.await;
        }),
    );
    // The relay's first pass finds nothing; then it listens.
    wait_until(Duration::from_secs(10), "the relay to listen", || async {
        let mut conn = pool.get().await.expect("conn");
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let listening: N = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .get_result(&mut conn)
        .await
        .expect("activity");
        (listening.n > 0).then_some(())
    })
    .await;
    enqueue_all(&pool, &execution_events()).await;
    wait_until(
        Duration::from_secs(20),
        "the relay to publish without a local wake-up",
        || async { (unpublished(&pool).await == 0).then_some(()) },
    )
    .await;
    let _ = stop.send(());
    running.await.expect("relay stopped");
}

/// The trace context of the span that wrote an outbox row is published with it, although the
/// relay's pass runs outside that span (as it always does in a service). The test's future runs
/// on the test thread (`block_on`), where the thread-local subscriber sees its spans.
#[tokio::test(flavor = "multi_thread")]
async fn the_writers_trace_context_is_published_with_the_row() {
    use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
    use tracing::Instrument;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    use tracing_subscriber::layer::SubscriberExt;

    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("it")));
    let _default = tracing::subscriber::set_default(subscriber);

    let bus = TestBus::start().await;
    let pool = platform_db("outbox").await;
    let events = execution_events();
    let span = tracing::info_span!("request");
    let trace_id = span.context().span().span_context().trace_id().to_string();
    enqueue_all(&pool, &events).instrument(span).await;

    let published = relay(&pool, &bus, Duration::from_secs(60))
        .pass()
        .await
        .expect("pass");
    assert_eq!(published, events.len());
    let topic = bus.kafka.topics.name(Stream::TaskExecution);
    let raw = bus.read_raw(&topic, events.len()).await;
    for record in &raw {
        let traceparent = record.header("traceparent").expect("traceparent header");
        assert!(
            traceparent.starts_with(&format!("00-{trace_id}-")),
            "{traceparent} does not carry trace {trace_id}"
        );
    }
}

/// Retention deletes published rows written before the cut-off and leaves unpublished rows
/// alone, through the append-only trigger (which lets only retention's deletes through).
#[tokio::test(flavor = "multi_thread")]
async fn retention_deletes_only_published_rows_past_the_cut_off() {
    let bus = TestBus::start().await;
    let pool = platform_db("outbox").await;
    enqueue_all(&pool, &execution_events()).await;
    let published = relay(&pool, &bus, Duration::from_secs(60))
        .pass()
        .await
        .expect("pass");
    assert_eq!(published, 5);
    enqueue_all(&pool, &execution_events()).await;
    let mut conn = pool.get().await.expect("conn");
    let now = chrono::Utc::now();
    let kept = outbox::delete_published_before(&mut conn, now - chrono::Duration::hours(1), 100)
        .await
        .expect("retention");
    assert_eq!(kept, 0, "nothing is old enough yet");
    let kept_type = execution_events()[0].kind().name();
    let kept_types: &'static [&'static str] = Box::leak(Box::new([kept_type]));
    let deleted = outbox::delete_published_before_keeping(
        &mut conn,
        now + chrono::Duration::hours(1),
        100,
        kept_types,
    )
    .await
    .expect("retention");
    assert_eq!(deleted, 4, "every published row but the kept type's");
    let deleted = outbox::delete_published_before(&mut conn, now + chrono::Duration::hours(1), 100)
        .await
        .expect("retention");
    assert_eq!(
        deleted, 1,
        "the kept type's row goes with a retention that keeps nothing"
    );
    assert_eq!(unpublished(&pool).await, 5, "unpublished rows stay");
}
