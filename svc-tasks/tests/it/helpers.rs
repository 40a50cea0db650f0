use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use diesel::dsl::sql;
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use svc_tasks::config::{CorsOrigins, TasksConfig};
use svc_tasks::domain::submission::Policy;
use svc_tasks::service::Services;
use svc_tasks::startup::Application;
use taskflow_platform::codec::EventCodec;
use taskflow_platform::testing::Isolation;
use taskflow_platform::{EventProducer, KafkaSettings, RegistrySettings};
use taskflow_schemas::Stream;
use uuid::Uuid;

pub use taskflow_platform::testing::{RawRecord, read_topic, wait_until};

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub admin_token: String,
    pub services: Services,
    pub kafka: KafkaSettings,
    pub registry: RegistrySettings,
    pub config: TasksConfig,
}

pub struct TestTenant {
    pub id: Uuid,
    pub key: String,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut TasksConfig)) -> Self {
        Self::spawn_with_cors(adjust, CorsOrigins::default()).await
    }

    pub async fn spawn_with_cors(adjust: impl FnOnce(&mut TasksConfig), cors: CorsOrigins) -> Self {
        let isolation = Isolation::new();
        let database_url = isolation.database("tasks").await;
        let mut config = TasksConfig {
            bind: "127.0.0.1:0".into(),
            workers: 1,
            database_url,
            db_pool_size: 12,
            admin_token: format!("admin-{}", Uuid::new_v4().simple()),
            max_body_bytes: 64 * 1024,
            consumer_group: isolation.group("svc-tasks"),
            kafka: isolation.kafka.clone(),
            registry: isolation.registry.clone(),
            idempotency_retention: Duration::from_secs(168 * 3600),
            maintenance: Default::default(),
            policy: Policy::default(),
            relay_idle_poll: Duration::from_millis(50),
            run_relay: true,
        };
        adjust(&mut config);
        Self::start(config, isolation.kafka, cors).await
    }

    /// Another instance of this app: same database, topics and consumer group.
    pub async fn sibling(&self) -> Self {
        Self::start(
            self.config.clone(),
            self.kafka.clone(),
            CorsOrigins::default(),
        )
        .await
    }

    /// `kafka`: the test's own view of the broker, whatever `config` tells the app.
    async fn start(config: TasksConfig, kafka: KafkaSettings, cors: CorsOrigins) -> Self {
        let app = Application::build_with_cors(config.clone(), cors)
            .await
            .expect("app builds");
        let base = format!("http://127.0.0.1:{}", app.port());
        let services = app.services().clone();
        tokio::spawn(app.run_until_stopped());
        Self {
            base,
            http: reqwest::Client::new(),
            admin_token: config.admin_token.clone(),
            services,
            registry: config.registry.clone(),
            kafka,
            config,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn create_tenant(&self, body: Value) -> TestTenant {
        let response = self
            .http
            .post(self.url("/v1/admin/tenants"))
            .bearer_auth(&self.admin_token)
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::CREATED);
        let created: Value = response.json().await.expect("json");
        TestTenant {
            id: created["tenant_id"]
                .as_str()
                .expect("id")
                .parse()
                .expect("uuid"),
            key: created["api_key"].as_str().expect("key").to_owned(),
        }
    }

    pub async fn tenant(&self) -> TestTenant {
        self.create_tenant(json!({"name": format!("t-{}", Uuid::new_v4().simple())}))
            .await
    }

    pub async fn submit(&self, tenant: &TestTenant, body: &Value, key: Option<&str>) -> Response {
        let mut request = self
            .http
            .post(self.url("/v1/tasks"))
            .bearer_auth(&tenant.key)
            .json(body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request.send().await.expect("request")
    }

    pub async fn get(&self, tenant: &TestTenant, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth(&tenant.key)
            .send()
            .await
            .expect("request")
    }

    /// Row count of `table` in this app's database.
    pub async fn count(&self, table: &str) -> i64 {
        self.count_where(table, "true").await
    }

    /// Rows of `table` in this app's database that meet `condition` (SQL).
    pub async fn count_where(&self, table: &str, condition: &str) -> i64 {
        let mut conn = self.services.db.get().await.expect("connection");
        diesel::select(sql::<BigInt>(&format!(
            "(SELECT count(*) FROM {table} WHERE {condition})"
        )))
        .get_result(&mut conn)
        .await
        .expect("count")
    }

    /// Runs `statement` (SQL) on this app's database, as an operator would.
    pub async fn execute(&self, statement: &str) {
        let mut conn = self.services.db.get().await.expect("connection");
        diesel::sql_query(statement)
            .execute(&mut conn)
            .await
            .expect("statement");
    }

    /// Outbox rows of task events (creating a tenant also writes its key's `ApiKeyIssued`).
    pub async fn task_outbox(&self) -> i64 {
        // Task events to publish: not the task's state for the compacted state topic, nor the
        // executor's events recorded in the task log.
        self.count_where(
            "outbox",
            "event_type LIKE 'Task%' AND event_type <> 'TaskState' AND NOT internal",
        )
        .await
    }

    pub fn topic(&self, stream: Stream) -> String {
        self.kafka.topics.name(stream)
    }

    /// A producer on this app's topics, to play the executor.
    pub fn producer(&self) -> EventProducer {
        let codec = Arc::new(EventCodec::new(&self.registry, self.kafka.topics.clone()));
        EventProducer::new(&self.kafka, codec).expect("producer")
    }

    pub async fn outbox_unpublished(&self) -> i64 {
        let mut conn = self.services.db.get().await.expect("connection");
        diesel::select(sql::<BigInt>("(SELECT count(*) FROM outbox_unpublished)"))
            .get_result(&mut conn)
            .await
            .expect("count")
    }
}

pub fn noop() -> Value {
    json!({"type": "noop", "payload": {}})
}

pub async fn json_of(response: Response) -> Value {
    response.json().await.expect("json body")
}

/// Asserts an RFC 9457 problem with this status and type slug; returns the document.
pub async fn assert_problem(response: Response, status: StatusCode, slug: &str) -> Value {
    assert_eq!(response.status(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("problem json");
    assert_eq!(
        body["type"],
        format!("urn:taskflow:problem:{slug}"),
        "{body}"
    );
    assert_eq!(body["status"], status.as_u16());
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    body
}

/// Every record on `topic` now: read up to each partition's end as of the call, so a test can
/// say "exactly this many" (a record published later is not waited for).
pub async fn drain_topic(bootstrap: &str, topic: &str) -> Vec<RawRecord> {
    let timeout = Duration::from_secs(10);
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("it-drain-{}", Uuid::new_v4().simple()))
        .set("enable.auto.commit", "false")
        .create()
        .expect("drain consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .expect("topic metadata");
    let mut ends = HashMap::new();
    let mut assignment = TopicPartitionList::new();
    for partition in metadata.topics()[0].partitions() {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition.id(), timeout)
            .expect("watermarks");
        if high > low {
            ends.insert(partition.id(), high);
            assignment
                .add_partition_offset(topic, partition.id(), Offset::Offset(low))
                .expect("assignment");
        }
    }
    let mut read = Vec::new();
    if ends.is_empty() {
        return read;
    }
    consumer.assign(&assignment).expect("assign");
    wait_until(
        Duration::from_secs(30),
        &format!("every record on {topic}"),
        || {
            while let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                if ends
                    .get(&m.partition())
                    .is_none_or(|end| m.offset() >= *end)
                {
                    continue;
                }
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
            // By the consumer's position, which also passes offsets that hold no record.
            let position = consumer.position().expect("position");
            ends.retain(|partition, end| {
                !matches!(
                    position.find_partition(topic, *partition).map(|e| e.offset()),
                    Some(Offset::Offset(next)) if next >= *end
                )
            });
            std::future::ready(ends.is_empty().then_some(()))
        },
    )
    .await;
    read
}
