use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};
use svc_notify::config::NotifyConfig;
use svc_notify::startup::Application;
use taskflow_platform::EventProducer;
use taskflow_platform::db::DbPool;
use taskflow_platform::rebuild::AdminToken;
use taskflow_platform::testing::Isolation;
use taskflow_schemas::samples::sample_meta;
use taskflow_schemas::{
    ApiKeyIssued, ApiKeyRevoked, Event, EventMeta, Priority, TaskCompleted, TaskCreated,
    TaskProgressUpdated, TaskStarted,
};
use uuid::Uuid;

pub use taskflow_platform::testing::wait_until;

/// The operator's token every test instance is configured with.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// A svc-notify of its own, and the bus to feed it.
pub struct TestNotify {
    pub base: String,
    pub http: reqwest::Client,
    pub config: NotifyConfig,
    pub producer: EventProducer,
    pub pool: DbPool,
    pub app_stop: actix_web::dev::ServerHandle,
    pub finished: tokio::task::JoinHandle<anyhow::Result<()>>,
}

pub struct TestTenant {
    pub id: Uuid,
    pub key_id: Uuid,
    pub key: String,
}

impl TestNotify {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut NotifyConfig)) -> Self {
        // Service logs on the test's output (shown for failing tests), filtered by RUST_LOG.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let isolation = Isolation::new();
        let database_url = isolation.database("notify").await;
        isolation.ensure_topics().await;
        let mut config = NotifyConfig {
            bind: "127.0.0.1:0".into(),
            workers: 1,
            database_url,
            db_pool_size: 8,
            consumer_group: isolation.group("svc-notify"),
            retention: Duration::from_secs(3600),
            keepalive: Duration::from_secs(15),
            client_buffer: 1024,
            max_connections: 1_000,
            tasks_api_url: "http://127.0.0.1:18090".into(),
            admin_token: AdminToken::new(Some(ADMIN_TOKEN.into())),
            kafka: isolation.kafka.clone(),
            registry: isolation.registry.clone(),
            maintenance: Default::default(),
        };
        adjust(&mut config);
        let producer = isolation.producer(isolation.codec());
        Self::start(config, producer).await
    }

    async fn start(config: NotifyConfig, producer: EventProducer) -> Self {
        let app = Application::build(config.clone())
            .await
            .expect("svc-notify builds");
        let base = format!("http://127.0.0.1:{}", app.port());
        let pool = app.pool().clone();
        let app_stop = app.stop_handle();
        let finished = tokio::spawn(app.run_until_stopped());
        Self {
            base,
            http: reqwest::Client::new(),
            config,
            producer,
            pool,
            app_stop,
            finished,
        }
    }

    /// Stops this instance (as SIGTERM would) and starts another on the same database, topics
    /// and consumer group, on a new port.
    pub async fn restart(self) -> Self {
        self.app_stop.stop(true).await;
        self.finished
            .await
            .expect("joined")
            .expect("stopped cleanly");
        Self::start(self.config, self.producer).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn publish(&self, events: &[Event]) {
        for result in self.producer.publish_all(events).await {
            result.expect("published");
        }
    }

    /// A tenant with a key svc-notify knows (its ApiKeyIssued was consumed).
    pub async fn tenant(&self) -> TestTenant {
        let tenant = TestTenant {
            id: Uuid::new_v4(),
            key_id: Uuid::now_v7(),
            key: format!("tfk_{}", Uuid::new_v4().simple()),
        };
        let hash: String = Sha256::digest(tenant.key.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.publish(&[ApiKeyIssued {
            meta: meta(tenant.id),
            key_id: tenant.key_id,
            key_sha256: hash,
            key_prefix: tenant.key[..10].to_owned(),
        }
        .into()])
            .await;
        wait_until(Duration::from_secs(30), "the key to be known", || async {
            let status = self
                .http
                .get(self.url("/v1/overview"))
                .bearer_auth(&tenant.key)
                .send()
                .await
                .ok()?
                .status();
            (status == StatusCode::OK).then_some(())
        })
        .await;
        tenant
    }

    pub async fn revoke(&self, tenant: &TestTenant) {
        self.publish(&[ApiKeyRevoked {
            meta: meta(tenant.id),
            key_id: tenant.key_id,
            reason: None,
        }
        .into()])
            .await;
    }

    /// Publishes `count` progress steps of a task's life; returns the task id. The task ends
    /// (completed) when `finish` is true.
    pub async fn task_life(&self, tenant: &TestTenant, progress: usize, finish: bool) -> Uuid {
        let task_id = Uuid::now_v7();
        self.publish(&[created(tenant.id, task_id)]).await;
        let mut lifecycle = vec![
            TaskStarted {
                meta: meta(tenant.id),
                task_id,
                attempt: 1,
                instance: "it".into(),
            }
            .into(),
        ];
        for i in 0..progress {
            lifecycle.push(progress_event(tenant.id, task_id, i, "step"));
        }
        if finish {
            lifecycle.push(
                TaskCompleted {
                    meta: meta(tenant.id),
                    task_id,
                    attempt: 1,
                    result_json: Some(r#"{"ok":true}"#.into()),
                    duration_ms: 3,
                }
                .into(),
            );
        }
        self.publish(&lifecycle).await;
        task_id
    }

    /// A stream token for the tenant (optionally for one task).
    pub async fn token(&self, tenant: &TestTenant, task: Option<Uuid>) -> String {
        let body = match task {
            Some(id) => serde_json::json!({"task_id": id}),
            None => serde_json::json!({}),
        };
        let response = self
            .http
            .post(self.url("/v1/stream-tokens"))
            .bearer_auth(&tenant.key)
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::CREATED);
        let issued: Value = response.json().await.expect("json");
        issued["token"].as_str().expect("token").to_owned()
    }

    /// Waits until svc-notify knows the task (its events were consumed).
    pub async fn known(&self, tenant: &TestTenant, task_id: Uuid, events: usize) {
        wait_until(Duration::from_secs(30), "the task's events", || async {
            let page: Value = self
                .http
                .get(self.url(&format!("/v1/notifications?task_id={task_id}&limit=500")))
                .bearer_auth(&tenant.key)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (page["items"].as_array()?.len() >= events).then_some(())
        })
        .await;
    }
}

impl TestNotify {
    /// How many of the task's events wait for its creation.
    pub async fn held_events(&self, task_id: Uuid) -> i64 {
        use diesel::sql_types::{BigInt, Uuid as SqlUuid};
        use diesel_async::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut conn = self.pool.get().await.expect("connection");
        let count: Count =
            diesel::sql_query("SELECT count(*) AS n FROM held_events WHERE task_id = $1")
                .bind::<SqlUuid, _>(task_id)
                .get_result(&mut conn)
                .await
                .expect("count");
        count.n
    }

    /// Waits until the tenant's feed numbered `seq` notifications.
    pub async fn seq_reaches(&self, tenant: &TestTenant, seq: i64) {
        wait_until(
            Duration::from_secs(60),
            &format!("the feed to reach {seq}"),
            || async {
                let page: Value = self
                    .http
                    .get(self.url("/v1/notifications?limit=1"))
                    .bearer_auth(&tenant.key)
                    .send()
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                (page["latest_seq"].as_i64()? >= seq).then_some(())
            },
        )
        .await;
    }
}

pub fn meta(tenant: Uuid) -> EventMeta {
    EventMeta {
        tenant_id: tenant,
        occurred_at: chrono::Utc::now().timestamp_millis(),
        causation_id: None,
        ..sample_meta()
    }
}

pub fn created(tenant: Uuid, task_id: Uuid) -> Event {
    TaskCreated {
        meta: meta(tenant),
        task_id,
        task_type: "sleep".into(),
        priority: Priority::Normal,
        payload_json: "{}".into(),
        max_attempts: 1,
        timeout_ms: 10_000,
        labels: BTreeMap::from([("team".into(), "core".into())]),
        idempotency_key: None,
        schedule_id: None,
        run_at: None,
    }
    .into()
}

pub fn progress_event(tenant: Uuid, task_id: Uuid, i: usize, message: &str) -> Event {
    TaskProgressUpdated {
        meta: meta(tenant),
        task_id,
        attempt: 1,
        percent: i32::try_from(i % 100).unwrap_or(0),
        message: Some(message.to_owned()),
    }
    .into()
}

/// One Server-Sent Event as received.
#[derive(Debug, Clone, Default)]
pub struct Sse {
    pub id: Option<i64>,
    pub event: String,
    pub data: Value,
}

/// An open SSE response, read event by event (comments are counted, not returned).
pub struct SseClient {
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: String,
    events: std::collections::VecDeque<Sse>,
    closed: bool,
    pub comments: usize,
    /// Why the body ended, when it broke off rather than ended.
    pub error: Option<String>,
}

impl SseClient {
    pub fn new(response: reqwest::Response) -> Self {
        assert_eq!(response.status(), StatusCode::OK, "stream opens");
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "an SSE stream"
        );
        Self {
            body: Box::pin(response.bytes_stream()),
            buffer: String::new(),
            events: Default::default(),
            closed: false,
            comments: 0,
            error: None,
        }
    }

    /// Reads one more chunk and parses the complete blocks in it; false once the stream ended.
    async fn fill(&mut self) -> bool {
        if self.closed {
            return false;
        }
        let chunk = tokio::time::timeout(Duration::from_secs(60), self.body.next())
            .await
            .expect("something within 60 s");
        let chunk = match chunk {
            Some(Ok(chunk)) => chunk,
            // A server that stops cuts its streams off mid-body: for the client, the end.
            Some(Err(error)) => {
                self.error = Some(error.to_string());
                self.closed = true;
                return false;
            }
            None => {
                self.closed = true;
                return false;
            }
        };
        self.buffer
            .push_str(std::str::from_utf8(&chunk).expect("utf-8"));
        while let Some(end) = self.buffer.find("\n\n") {
            let block: String = self.buffer.drain(..end + 2).collect();
            let mut sse = Sse {
                event: "message".into(),
                ..Sse::default()
            };
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    sse.id = v.parse().ok();
                } else if let Some(v) = line.strip_prefix("event: ") {
                    sse.event = v.to_owned();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data.push_str(v);
                } else if line.starts_with(':') {
                    self.comments += 1;
                }
            }
            if !data.is_empty() {
                sse.data = serde_json::from_str(&data).expect("data is JSON");
                self.events.push_back(sse);
            }
        }
        true
    }

    /// The next event, or None when the stream ended.
    pub async fn next(&mut self) -> Option<Sse> {
        loop {
            if let Some(sse) = self.events.pop_front() {
                return Some(sse);
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    /// Reads until at least `n` comment lines (keep-alives) arrived in all.
    pub async fn wait_comments(&mut self, n: usize) {
        while self.comments < n {
            assert!(self.fill().await, "stream ended while waiting for comments");
        }
    }

    /// The next `n` task events.
    pub async fn tasks(&mut self, n: usize) -> Vec<Sse> {
        let mut got = Vec::new();
        // Keep-alives keep a stream open forever: bound the wait for events themselves.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
        while got.len() < n {
            let next = tokio::time::timeout_at(deadline, self.next()).await;
            let Ok(next) = next else {
                panic!(
                    "only {} of {n} task events within 90 s (keep-alives seen: {})",
                    got.len(),
                    self.comments
                );
            };
            let Some(sse) = next else {
                panic!(
                    "the stream ended after {} of {n} task events: {:?}",
                    got.len(),
                    self.error
                );
            };
            if sse.event == "task" {
                got.push(sse);
            }
        }
        got
    }
}

pub async fn open_stream(app: &TestNotify, path: &str, key: Option<&str>) -> SseClient {
    let mut request = app.http.get(app.url(path));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    SseClient::new(request.send().await.expect("request"))
}
