//! svc-notify as the bench drives it: the bench tenant, whose API key is announced on Kafka
//! (`ApiKeyIssued`, as svc-tasks would) and whose tasks are created and started there; the
//! progress events published at a steady rate, each stamped when it is sent; and the position
//! of svc-notify's feed (`GET /v1/notifications`), which says what it has ingested.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use taskflow_platform::{EventCodec, EventProducer, KafkaSettings, RegistrySettings};
use taskflow_schemas::{
    ApiKeyIssued, Event, EventMeta, Priority, TaskCreated, TaskProgressUpdated, TaskStarted,
};
use uuid::Uuid;

use crate::Args;

pub struct Notify {
    http: reqwest::Client,
    url: String,
    /// The bench tenant's API key.
    pub key: String,
    producer: EventProducer,
    tenant: Uuid,
}

impl Notify {
    async fn status(&self, path: &str) -> Option<(reqwest::StatusCode, serde_json::Value)> {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.key)
            .send()
            .await
            .ok()?;
        let status = response.status();
        Some((status, response.json().await.unwrap_or_default()))
    }

    pub async fn latest_seq(&self) -> Option<i64> {
        let (_, page) = self.status("/v1/notifications?limit=1").await?;
        page["latest_seq"].as_i64()
    }

    /// Waits until the feed numbered `seq` notifications.
    pub async fn seq_reaches(&self, seq: i64, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        loop {
            let latest = self.latest_seq().await;
            if latest.is_some_and(|l| l >= seq) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("svc-notify's feed is at {latest:?} after {within:?}, expected {seq}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn meta(&self) -> EventMeta {
        EventMeta::new(
            chrono::Utc::now().timestamp_millis(),
            "bench-notify",
            self.tenant,
            "bench-notify",
        )
    }

    async fn publish(&self, events: &[Event]) -> anyhow::Result<()> {
        for result in self.producer.publish_all(events).await {
            result.context("publishing to Kafka")?;
        }
        Ok(())
    }

    fn progress(&self, task_id: Uuid, n: usize) -> Event {
        TaskProgressUpdated {
            meta: self.meta(),
            task_id,
            attempt: 1,
            percent: i32::try_from(n % 100).unwrap_or(0),
            message: Some("bench".into()),
        }
        .into()
    }

    /// Publishes `n` progress events over the tasks at `rate` per second, each stamped when it
    /// is sent; returns how many failed.
    pub async fn paced(&self, tasks: &[Uuid], n: usize, rate: u32) -> usize {
        let gap = Duration::from_secs(1) / rate.max(1);
        let start = tokio::time::Instant::now();
        let mut sends = Vec::with_capacity(n);
        for i in 0..n {
            tokio::time::sleep_until(start + gap * u32::try_from(i).unwrap_or(u32::MAX)).await;
            let event = self.progress(tasks[i % tasks.len()], i / tasks.len());
            let producer = self.producer.clone();
            sends.push(tokio::spawn(async move { producer.publish(&event).await }));
        }
        let mut failed = 0;
        for send in sends {
            if !matches!(send.await, Ok(Ok(_))) {
                failed += 1;
            }
        }
        failed
    }
}

/// Announces the bench tenant's key and creates and starts its tasks; returns them once
/// svc-notify has ingested them all.
pub async fn set_up(args: &Args) -> anyhow::Result<(Notify, Vec<Uuid>)> {
    let kafka = KafkaSettings::from_env().context("Kafka settings")?;
    let registry = RegistrySettings::from_env().context("registry settings")?;
    let codec = Arc::new(EventCodec::new(&registry, kafka.topics.clone()));
    let producer = EventProducer::new(&kafka, codec).context("Kafka producer")?;
    let notify = Notify {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?,
        url: args.url.trim_end_matches('/').to_owned(),
        key: format!("tfk_{}", Uuid::new_v4().simple()),
        producer,
        tenant: Uuid::new_v4(),
    };
    let hash: String = Sha256::digest(notify.key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    notify
        .publish(&[ApiKeyIssued {
            meta: notify.meta(),
            key_id: Uuid::now_v7(),
            key_sha256: hash,
            key_prefix: notify.key[..10].to_owned(),
        }
        .into()])
        .await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !matches!(notify.status("/v1/overview").await, Some((s, _)) if s.is_success()) {
        if Instant::now() > deadline {
            bail!("svc-notify did not learn the bench key within 60 s (ApiKeyIssued consumed?)");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let tasks: Vec<Uuid> = (0..args.tasks.max(1)).map(|_| Uuid::now_v7()).collect();
    let created: Vec<Event> = tasks
        .iter()
        .map(|&task_id| {
            TaskCreated {
                meta: notify.meta(),
                task_id,
                task_type: "bench".into(),
                priority: Priority::Normal,
                payload_json: "{}".into(),
                max_attempts: 1,
                timeout_ms: 3_600_000,
                labels: BTreeMap::from([("bench".into(), "notify".into())]),
                idempotency_key: None,
                schedule_id: None,
                run_at: None,
            }
            .into()
        })
        .collect();
    notify.publish(&created).await?;
    let started: Vec<Event> = tasks
        .iter()
        .map(|&task_id| {
            TaskStarted {
                meta: notify.meta(),
                task_id,
                attempt: 1,
                instance: "bench-notify".into(),
            }
            .into()
        })
        .collect();
    notify.publish(&started).await?;
    notify
        .seq_reaches(2 * i64::try_from(tasks.len())?, Duration::from_secs(60))
        .await?;
    Ok((notify, tasks))
}
