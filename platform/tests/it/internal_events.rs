//! Internal events: rows of a service's log that no relay publishes. They take positions like
//! every row, the relay steps over them and records the settled position past them, the backlog
//! does not count them, and a copy of one already logged appends nothing.

use std::sync::Arc;
use std::time::Duration;

use diesel_async::AsyncConnection;
use taskflow_platform::headers::TraceContext;
use taskflow_platform::outbox::{self, OutboxError, Relay};
use taskflow_schemas::samples::one_of_each;
use taskflow_schemas::{Event, Stream};
use tokio::sync::Notify;

use crate::helpers::{TestBus, count, platform_db};

fn traced(events: &[Event]) -> Vec<(Event, TraceContext)> {
    events
        .iter()
        .map(|e| (e.clone(), TraceContext::default()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn internal_events_stay_in_the_log_and_the_relay_steps_over_them() {
    let bus = TestBus::start().await;
    let pool = platform_db("outbox_internal").await;
    let events: Vec<Event> = one_of_each()
        .into_iter()
        .filter(|e| e.kind().stream() == Stream::TaskExecution)
        .collect();
    let (kept_a, published, kept_b, later) = (
        events[0].clone(),
        events[1].clone(),
        events[2].clone(),
        events[3].clone(),
    );
    let mut conn = pool.get().await.expect("conn");
    conn.transaction::<_, OutboxError, _>(async |conn| {
        outbox::append_internal(conn, &traced(std::slice::from_ref(&kept_a))).await?;
        outbox::enqueue(conn, &published).await?;
        outbox::append_internal(conn, &traced(std::slice::from_ref(&kept_b))).await?;
        Ok(())
    })
    .await
    .expect("appended");

    let relay = Relay {
        db: pool.clone(),
        producer: bus.producer.clone(),
        ready: Arc::new(Notify::new()),
        idle_poll: Duration::from_secs(60),
    };
    assert_eq!(
        relay.pass().await.expect("pass"),
        1,
        "only the published row"
    );
    let topic = bus.kafka.topics.name(Stream::TaskExecution);
    let raw = bus.read_raw(&topic, 1).await;
    assert_eq!(
        raw[0].header("event_id"),
        Some(published.meta().event_id.to_string().as_str()),
        "the one record on the topic is the published event"
    );
    let last = count(&mut conn, "SELECT max(id) AS n FROM outbox").await;
    assert_eq!(
        outbox::published_up_to(&mut conn).await.expect("position"),
        last,
        "the position steps over the internal row after the published one"
    );
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM outbox WHERE internal").await,
        2,
        "internal rows stay in the log"
    );

    // A redelivered fact appends nothing; a new internal row alone is no backlog.
    assert_eq!(
        outbox::append_internal(&mut conn, &traced(&[kept_a, later]))
            .await
            .expect("appended"),
        1
    );
    assert_eq!(outbox::backlog(&mut conn).await.expect("backlog").0, 0);
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM outbox_unpublished").await,
        0
    );
    assert_eq!(relay.pass().await.expect("pass"), 0);
}
