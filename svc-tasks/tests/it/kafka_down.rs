//! svc-tasks starts and accepts work while Kafka is down: the outbox absorbs the outage, and
//! `/health/ready` says not ready until the broker answers; then the backlog is published.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use taskflow_schemas::Stream;
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{TestApp, json_of, noop, read_topic, wait_until};

/// Forwards connections on `listener` to `broker`: the broker "comes up" at this address.
fn forward(listener: TcpListener, broker: String) {
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let broker = broker.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(&broker).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
}

async fn ready(app: &TestApp) -> (StatusCode, Value) {
    let response = app
        .http
        .get(app.url("/health/ready"))
        .send()
        .await
        .expect("ready");
    let status = response.status();
    (status, response.json().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread")]
async fn it_starts_and_accepts_work_while_kafka_is_down() {
    // A loopback port where nothing listens yet: Kafka as far as svc-tasks can tell.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let bootstrap = format!("127.0.0.1:{port}");
    let app = TestApp::spawn_with(|c| c.kafka.bootstrap_servers = bootstrap.clone()).await;

    let (status, body) = ready(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["checks"]["kafka"]["status"], "down", "{body}");
    assert_eq!(body["checks"]["database"]["status"], "up", "{body}");

    let tenant = app.tenant().await;
    let response = app.submit(&tenant, &noop(), None).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let task = json_of(response).await;
    // The task and the tenant's key (ApiKeyIssued).
    assert_eq!(app.outbox_unpublished().await, 2, "waiting in the outbox");

    let listener = TcpListener::bind(&bootstrap)
        .await
        .expect("port still free");
    forward(listener, app.kafka.bootstrap_servers.clone());
    wait_until(
        Duration::from_secs(90),
        "ready once Kafka answers",
        || async { (ready(&app).await.0 == StatusCode::OK).then_some(()) },
    )
    .await;
    wait_until(Duration::from_secs(90), "the outbox to drain", || async {
        (app.outbox_unpublished().await == 0).then_some(())
    })
    .await;
    let records = read_topic(
        &app.kafka.bootstrap_servers,
        &app.topic(Stream::TaskRequests),
        1,
    )
    .await;
    assert_eq!(
        records[0].key.as_deref(),
        task["id"].as_str().map(str::as_bytes)
    );
}
