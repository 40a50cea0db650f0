use std::time::Duration;

use diesel::QueryableByName;
use diesel::sql_types::Uuid as SqlUuid;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::{Value, json};
use svc_executor::config::ExecutorConfig;
use svc_executor::domain::backoff::Backoff;
use svc_executor::startup::Application as Executor;
use svc_tasks::config::TasksConfig;
use svc_tasks::domain::submission::Policy;
use svc_tasks::startup::Application as Tasks;
use taskflow_platform::db::{self, DbPool};
use taskflow_platform::testing::Isolation;
use taskflow_platform::{KafkaSettings, RegistrySettings};
use uuid::Uuid;

pub use taskflow_platform::testing::{read_topic, wait_until};

/// The svc-executor binary of this build, for tests that kill it as a separate process.
pub fn executor_binary() -> std::path::PathBuf {
    service_binary("svc-executor")
}

/// A service binary of this build (`cargo nextest run --workspace` builds it next to the test
/// binary's `deps/` folder), for tests that kill it as a separate process.
pub fn service_binary(name: &str) -> std::path::PathBuf {
    let test_binary = std::env::current_exe().expect("test binary path");
    let profile_dir = test_binary
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>");
    let binary = profile_dir.join(name);
    assert!(
        binary.exists(),
        "{} is missing: build it with the tests (`cargo nextest run --workspace` or `cargo build -p {name}`)",
        binary.display()
    );
    binary
}

/// svc-tasks in front, and the executor database; executors are started by the test.
pub struct System {
    pub id: String,
    pub api: String,
    pub http: reqwest::Client,
    pub admin_token: String,
    pub kafka: KafkaSettings,
    pub registry: RegistrySettings,
    pub executor_db_url: String,
    pub executor_db: DbPool,
}

pub struct Tenant {
    pub key: String,
}

impl System {
    pub async fn start() -> Self {
        let isolation = Isolation::new();
        let tasks_db = isolation.database("tasks").await;
        let executor_db_url = isolation.database("exec").await;
        let consumer_group = isolation.group("svc-tasks");
        let Isolation {
            id,
            kafka,
            registry,
        } = isolation;
        let admin_token = format!("admin-{}", Uuid::new_v4().simple());
        let tasks = Tasks::build(TasksConfig {
            bind: "127.0.0.1:0".into(),
            workers: 1,
            database_url: tasks_db,
            db_pool_size: 8,
            admin_token: admin_token.clone(),
            max_body_bytes: 256 * 1024,
            consumer_group,
            kafka: kafka.clone(),
            registry: registry.clone(),
            idempotency_retention: Duration::from_secs(168 * 3600),
            maintenance: Default::default(),
            policy: Policy::default(),
            relay_idle_poll: Duration::from_millis(50),
            run_relay: true,
        })
        .await
        .expect("svc-tasks");
        let api = format!("http://127.0.0.1:{}", tasks.port());
        tokio::spawn(tasks.run_until_stopped());
        let executor_db = db::pool(&executor_db_url, 4).expect("pool");
        Self {
            id,
            api,
            http: reqwest::Client::new(),
            admin_token,
            kafka,
            registry,
            executor_db_url,
            executor_db,
        }
    }

    pub fn executor_config(&self, instance: &str, concurrency: usize) -> ExecutorConfig {
        ExecutorConfig {
            bind: "127.0.0.1:0".into(),
            database_url: self.executor_db_url.clone(),
            db_pool_size: concurrency + 4,
            concurrency,
            instance: instance.into(),
            backoff: Backoff {
                base: Duration::from_millis(100),
                cap: Duration::from_millis(400),
            },
            lease_grace: Duration::from_millis(1000),
            drain: Duration::from_secs(5),
            poll: Duration::from_millis(50),
            allow_loopback: true,
            loopback_ports: Default::default(),
            allow_private: false,
            consumer_group: format!("it-{}-svc-executor", self.id),
            retention: Duration::from_secs(168 * 3600),
            maintenance: Default::default(),
            admin_token: Default::default(),
            kafka: self.kafka.clone(),
            registry: self.registry.clone(),
        }
    }

    /// Starts an in-process executor.
    pub async fn executor(&self, instance: &str, concurrency: usize) {
        let executor = Executor::build(self.executor_config(instance, concurrency))
            .await
            .expect("executor");
        tokio::spawn(executor.run_until_stopped());
    }

    pub async fn tenant(&self) -> Tenant {
        let created: Value = self
            .http
            .post(format!("{}/v1/admin/tenants", self.api))
            .bearer_auth(&self.admin_token)
            .json(&json!({"name": format!("t-{}", Uuid::new_v4().simple())}))
            .send()
            .await
            .expect("tenant")
            .json()
            .await
            .expect("json");
        Tenant {
            key: created["api_key"].as_str().expect("key").to_owned(),
        }
    }

    pub async fn submit(&self, tenant: &Tenant, body: Value) -> String {
        let response = self
            .http
            .post(format!("{}/v1/tasks", self.api))
            .bearer_auth(&tenant.key)
            .json(&body)
            .send()
            .await
            .expect("submit");
        assert_eq!(response.status(), StatusCode::CREATED);
        let task: Value = response.json().await.expect("json");
        task["id"].as_str().expect("id").to_owned()
    }

    pub async fn task(&self, tenant: &Tenant, id: &str) -> Value {
        self.http
            .get(format!("{}/v1/tasks/{id}", self.api))
            .bearer_auth(&tenant.key)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json")
    }

    pub async fn history(&self, tenant: &Tenant, id: &str) -> Vec<Value> {
        let body: Value = self
            .http
            .get(format!("{}/v1/tasks/{id}/events", self.api))
            .bearer_auth(&tenant.key)
            .send()
            .await
            .expect("events")
            .json()
            .await
            .expect("json");
        body["events"].as_array().cloned().unwrap_or_default()
    }

    pub async fn cancel(&self, tenant: &Tenant, id: &str) -> StatusCode {
        self.http
            .post(format!("{}/v1/tasks/{id}/cancel", self.api))
            .bearer_auth(&tenant.key)
            .send()
            .await
            .expect("cancel")
            .status()
    }

    /// Waits for the task to reach `status` as seen through the API.
    pub async fn wait_status(
        &self,
        tenant: &Tenant,
        id: &str,
        status: &str,
        within: Duration,
    ) -> Value {
        wait_until(within, &format!("task {id} to be {status}"), || async {
            let task = self.task(tenant, id).await;
            (task["status"] == status).then_some(task)
        })
        .await
    }

    /// The executor's log of attempts (which task each ran), in start order.
    pub async fn attempts(&self) -> Vec<AttemptRow> {
        let mut conn = self.executor_db.get().await.expect("conn");
        diesel::sql_query("SELECT task_id FROM attempts ORDER BY started_at, task_id")
            .load(&mut conn)
            .await
            .expect("attempts")
    }
}

#[derive(Debug, Clone, QueryableByName)]
pub struct AttemptRow {
    #[diesel(sql_type = SqlUuid)]
    pub task_id: Uuid,
}

pub fn types(history: &[Value]) -> Vec<String> {
    history
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}
