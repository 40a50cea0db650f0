use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use diesel_async::AsyncConnection;
use taskflow_platform::outbox::{OutboxError, Relay, publish_without_marking};
use taskflow_schemas::Stream;
use tokio::sync::Notify;

use crate::helpers::{TestApp, json_of, noop, read_topic};

/// The relay dies after the broker acknowledged a batch but before it marked the rows sent:
/// the next pass sends them again with the same event ids; nothing is lost.
#[tokio::test(flavor = "multi_thread")]
async fn a_relay_killed_between_publish_and_mark_loses_nothing() {
    let app = TestApp::spawn_with(|c| c.run_relay = false).await;
    let tenant = app.tenant().await;
    for _ in 0..3 {
        json_of(app.submit(&tenant, &noop(), None).await).await;
    }
    // The outbox holds the three tasks and the tenant's key (ApiKeyIssued, on its own topic).
    let producer = app.producer();
    let mut conn = app.services.db.get().await.expect("connection");
    let crashed = conn
        .transaction::<(), OutboxError, _>(async |conn| {
            assert_eq!(publish_without_marking(conn, &producer).await?, 4);
            // The process dies here: its transaction never commits.
            Err(OutboxError::Corrupt {
                id: 0,
                reason: "killed".into(),
            })
        })
        .await;
    assert!(crashed.is_err());
    drop(conn);
    let topic = app.topic(Stream::TaskRequests);
    read_topic(&app.kafka.bootstrap_servers, &topic, 3).await;
    assert_eq!(app.outbox_unpublished().await, 4, "nothing was marked");

    let relay = Relay {
        db: app.services.db.clone(),
        producer,
        ready: Arc::new(Notify::new()),
        idle_poll: Duration::from_millis(50),
    };
    assert_eq!(relay.pass().await.expect("pass"), 4);
    assert_eq!(app.outbox_unpublished().await, 0);

    let records = read_topic(&app.kafka.bootstrap_servers, &topic, 6).await;
    let ids: BTreeSet<_> = records
        .iter()
        .filter_map(|r| r.header("event_id"))
        .collect();
    assert_eq!(records.len(), 6, "each event twice");
    assert_eq!(ids.len(), 3, "the copies carry the same event ids");
}
