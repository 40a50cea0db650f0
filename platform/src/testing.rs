//! Helpers for integration tests of every service (feature `test-support`).

use std::future::Future;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use uuid::Uuid;

/// Polls `check` until it yields a value; panics naming `what` after `timeout`.
pub async fn wait_until<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A record as it sits on the topic.
#[derive(Debug, Clone)]
pub struct RawRecord {
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl RawRecord {
    pub fn header(&self, key: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads `topic` from the beginning with a throwaway group until `count` records arrived.
pub async fn read_topic(bootstrap: &str, topic: &str, count: usize) -> Vec<RawRecord> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("it-raw-{}", Uuid::new_v4().simple()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("raw consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut read = Vec::new();
    wait_until(
        Duration::from_secs(30),
        &format!("{count} records on {topic}"),
        || {
            while let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                read.push(RawRecord {
                    key: m.key().map(<[u8]>::to_vec),
                    payload: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
                    headers: m
                        .headers()
                        .map(|h| {
                            h.iter()
                                .map(|h| {
                                    let value = h.value.map(String::from_utf8_lossy);
                                    (h.key.to_owned(), value.unwrap_or_default().into_owned())
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                });
            }
            std::future::ready((read.len() >= count).then_some(()))
        },
    )
    .await;
    read
}

/// Tables the platform's own migrations create; a service must not declare them again.
pub const PLATFORM_TABLES: [&str; 2] = ["outbox", "consumed_events"];

/// Panics naming the file when a migration under `dir` creates a platform table.
pub fn assert_no_platform_tables(dir: &str) {
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).expect("migrations folder") {
        let up = entry.expect("entry").path().join("up.sql");
        let Ok(sql) = std::fs::read_to_string(&up) else {
            continue;
        };
        checked += 1;
        let sql = sql.to_lowercase();
        for table in PLATFORM_TABLES {
            for form in [
                format!("create table {table} "),
                format!("create table {table}("),
                format!("create table if not exists {table} "),
                format!("create table if not exists {table}("),
            ] {
                assert!(
                    !sql.contains(&form),
                    "{} declares the platform's `{table}` table; it is created by platform/migrations",
                    up.display()
                );
            }
        }
    }
    assert!(checked > 0, "no migrations found under {dir}");
}
