use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};
use svc_scheduler::config::SchedulerConfig;
use svc_scheduler::startup::Application;
use taskflow_platform::EventProducer;
use taskflow_platform::codec::EventCodec;
use taskflow_platform::rebuild::AdminToken;
use taskflow_platform::testing::Isolation;
use taskflow_schemas::samples::sample_meta;
use taskflow_schemas::{ApiKeyIssued, EventMeta};
use uuid::Uuid;

pub use taskflow_platform::testing::wait_until;

/// The operator's token of the instances the tests start.
pub const ADMIN_TOKEN: &str = "scheduler-admin-token-for-tests";

pub struct TestScheduler {
    pub base: String,
    pub http: reqwest::Client,
    pub config: SchedulerConfig,
    pub producer: EventProducer,
    pub codec: Arc<EventCodec>,
    pub stop: actix_web::dev::ServerHandle,
}

pub struct TestTenant {
    pub id: Uuid,
    pub key: String,
}

impl TestScheduler {
    pub async fn spawn() -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let isolation = Isolation::new();
        let database_url = isolation.database("sched").await;
        isolation.ensure_topics().await;
        let config = SchedulerConfig {
            bind: "127.0.0.1:0".into(),
            workers: 1,
            database_url,
            db_pool_size: 6,
            consumer_group: isolation.group("svc-scheduler"),
            max_per_second: 1.0,
            retention: std::time::Duration::from_secs(720 * 3600),
            maintenance: Default::default(),
            admin_token: AdminToken::new(Some(ADMIN_TOKEN.into())),
            kafka: isolation.kafka.clone(),
            registry: isolation.registry.clone(),
        };
        let codec = isolation.codec();
        let producer = isolation.producer(codec.clone());
        Self::start(config, producer, codec).await
    }

    /// Another instance on the same database, topics and consumer group.
    pub async fn sibling(&self) -> Self {
        Self::start(
            self.config.clone(),
            self.producer.clone(),
            self.codec.clone(),
        )
        .await
    }

    async fn start(
        config: SchedulerConfig,
        producer: EventProducer,
        codec: Arc<EventCodec>,
    ) -> Self {
        let app = Application::build(config.clone())
            .await
            .expect("svc-scheduler builds");
        let base = format!("http://127.0.0.1:{}", app.port());
        let stop = app.stop_handle();
        tokio::spawn(app.run_until_stopped());
        Self {
            base,
            // Bounded, so that a request the service never answers fails naming the call
            // instead of hanging the test until the runner kills it (seen once in CI).
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            config,
            producer,
            codec,
            stop,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A tenant whose key the scheduler knows.
    pub async fn tenant(&self) -> TestTenant {
        let tenant = TestTenant {
            id: Uuid::new_v4(),
            key: format!("tfk_{}", Uuid::new_v4().simple()),
        };
        let hash: String = Sha256::digest(tenant.key.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let event = ApiKeyIssued {
            meta: EventMeta {
                tenant_id: tenant.id,
                ..sample_meta()
            },
            key_id: Uuid::now_v7(),
            key_sha256: hash,
            key_prefix: tenant.key[..10].to_owned(),
        };
        self.producer
            .publish(&event.into())
            .await
            .expect("published");
        // 60 s: with two instances in one group the first rebalance can take most of 30 s on a
        // loaded two-core machine (seen once in CI), and the key is learnt only after it.
        wait_until(Duration::from_secs(60), "the key to be known", || async {
            let status = self
                .http
                .get(self.url("/v1/schedules"))
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

    pub async fn create(&self, tenant: &TestTenant, body: &Value) -> Value {
        let response = self
            .http
            .post(self.url("/v1/schedules"))
            .bearer_auth(&tenant.key)
            .json(body)
            .send()
            .await
            .expect("request");
        let status = response.status();
        let body: Value = response.json().await.expect("json");
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    pub async fn occurrences(&self, tenant: &TestTenant, id: &str) -> Vec<Value> {
        let page: Value = self
            .http
            .get(self.url(&format!("/v1/schedules/{id}/occurrences?limit=500")))
            .bearer_auth(&tenant.key)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        page["items"].as_array().cloned().unwrap_or_default()
    }

    /// Decoded trigger events on the triggers topic, from the start.
    pub async fn triggers(&self, at_least: usize) -> Vec<taskflow_schemas::Event> {
        self.records(taskflow_schemas::Stream::ScheduleTriggers, at_least)
            .await
            .into_iter()
            .map(|(_, event)| event)
            .collect()
    }

    /// Records on `stream`'s topic from the start (at least `at_least`), each with its key,
    /// decoded with the schemas the registry holds for them.
    pub async fn records(
        &self,
        stream: taskflow_schemas::Stream,
        at_least: usize,
    ) -> Vec<(Option<String>, taskflow_schemas::Event)> {
        let topic = self.config.kafka.topics.name(stream);
        let raw = taskflow_platform::testing::read_topic(
            &self.config.kafka.bootstrap_servers,
            &topic,
            at_least,
        )
        .await;
        let mut records = Vec::new();
        for record in raw {
            let key = record
                .key
                .as_deref()
                .map(|k| String::from_utf8_lossy(k).into_owned());
            let event = self
                .codec
                .decode(Some(&record.payload))
                .await
                .expect("decodes");
            records.push((key, event));
        }
        records
    }

    /// The event types in the service's outbox log, in log order: what it has announced.
    pub async fn outbox_types(&self) -> Vec<String> {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use taskflow_platform::outbox::outbox;
        let pool = taskflow_platform::db::pool(&self.config.database_url, 1).expect("pool");
        let mut conn = pool.get().await.expect("connection");
        outbox::table
            .order(outbox::id)
            .select(outbox::event_type)
            .load(&mut conn)
            .await
            .expect("outbox rows")
    }

    /// `method path` as `tenant`, with a JSON body when one is given: the status and the body
    /// (`Value::Null` when there is none).
    pub async fn call(
        &self,
        tenant: &TestTenant,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&tenant.key);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }
}
