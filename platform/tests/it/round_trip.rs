use std::collections::HashMap;

use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use taskflow_schemas::samples::one_of_each;
use taskflow_schemas::{Event, EventKind, Stream};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

use crate::helpers::{TestBus, receive, recorder, spawn_consumer};

fn all_topics(bus: &TestBus) -> Vec<String> {
    Stream::ALL
        .iter()
        .map(|s| bus.kafka.topics.name(*s))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_event_type_round_trips_through_kafka_and_the_registry() {
    let bus = TestBus::start().await;
    let sent = one_of_each();
    for event in &sent {
        bus.producer.publish(event).await.expect("published");
    }

    let consumer = bus.consumer(&bus.group("round-trip"), all_topics(&bus));
    let (handler, mut recording) = recorder();
    let (stop, task) = spawn_consumer(consumer, handler);
    let received = receive(&mut recording.records, sent.len(), "events").await;
    let _ = stop.send(());
    task.await
        .expect("consumer task")
        .expect("consumer closed cleanly");

    let by_id: HashMap<_, _> = received
        .iter()
        .map(|r| (r.event.meta().event_id, &r.event))
        .collect();
    for event in &sent {
        assert_eq!(
            by_id.get(&event.meta().event_id),
            Some(&event),
            "{:?}",
            event.kind()
        );
    }
    for record in &received {
        assert_eq!(
            bus.kafka.topics.stream_of(&record.topic),
            Some(record.event.kind().stream()),
            "{:?} arrived on {}",
            record.event.kind(),
            record.topic
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn records_are_keyed_by_task_and_carry_event_headers() {
    let bus = TestBus::start().await;
    let Event::TaskCreated(created) = one_of_each().remove(0) else {
        unreachable!("the first sample is TaskCreated")
    };
    bus.producer
        .publish(&created.clone().into())
        .await
        .expect("published");

    let topic = bus.kafka.topics.name(Stream::TaskRequests);
    let raw = bus.read_raw(&topic, 1).await;
    assert_eq!(
        raw[0].key.as_deref(),
        Some(created.task_id.to_string().as_bytes())
    );
    assert_eq!(raw[0].header("event_type"), Some("TaskCreated"));
    assert_eq!(
        raw[0].header("event_id"),
        Some(created.meta.event_id.to_string().as_str())
    );
    assert_eq!(
        raw[0].header("correlation_id"),
        Some(created.meta.correlation_id.as_str())
    );
    assert_eq!(raw[0].payload[0], 0, "Confluent magic byte");
}

/// Runs on the test's own thread so the thread-local subscriber sees every span.
#[tokio::test(flavor = "current_thread")]
async fn trace_context_travels_in_the_traceparent_header() {
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("it")));
    let _default = tracing::subscriber::set_default(subscriber);

    let bus = TestBus::start().await;
    let event = one_of_each()
        .into_iter()
        .find(|e| e.kind() == EventKind::ScheduledTaskTriggered)
        .expect("a sample trigger");
    let span = tracing::info_span!("submit");
    let trace_id = span.context().span().span_context().trace_id().to_string();
    bus.producer
        .publish(&event)
        .instrument(span)
        .await
        .expect("published");

    let raw = bus
        .read_raw(&bus.kafka.topics.name(Stream::ScheduleTriggers), 1)
        .await;
    let traceparent = raw[0].header("traceparent").expect("traceparent header");
    assert!(
        traceparent.starts_with(&format!("00-{trace_id}-")),
        "{traceparent} does not carry trace {trace_id}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_handler_is_retried_with_the_same_batch_before_offsets_move() {
    let bus = TestBus::start().await;
    let event = one_of_each().remove(0);
    bus.producer.publish(&event).await.expect("published");

    let group = bus.group("retry");
    let topics = vec![bus.kafka.topics.name(Stream::TaskRequests)];
    let consumer = bus.consumer(&group, topics.clone());
    let (mut handler, mut recording) = recorder();
    handler.fail_first = 2;
    let (stop, task) = spawn_consumer(consumer, handler);
    let delivered = receive(&mut recording.records, 1, "event").await;
    let _ = stop.send(());
    task.await
        .expect("consumer task")
        .expect("consumer closed cleanly");

    let batches = receive(&mut recording.batches, 3, "handler calls").await;
    let expected = vec![event.meta().event_id];
    assert!(batches.iter().all(|b| *b == expected), "{batches:?}");
    assert_eq!(delivered[0].event, event);

    // A new member of the group starts after the record: its offset was committed.
    let consumer = bus.consumer(&group, topics);
    let next = one_of_each().remove(1);
    bus.producer.publish(&next).await.expect("published");
    let (handler, mut recording) = recorder();
    let (stop, task) = spawn_consumer(consumer, handler);
    let got = receive(&mut recording.records, 1, "event").await;
    let _ = stop.send(());
    task.await
        .expect("consumer task")
        .expect("consumer closed cleanly");
    assert_eq!(
        got[0].event, next,
        "the committed record was delivered again"
    );
}
