use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use svc_executor::config::ExecutorConfig;
use svc_executor::domain::backoff::Backoff;
use svc_executor::startup::Application;
use taskflow_platform::EventProducer;
use taskflow_platform::db::{self, DbPool};
use taskflow_platform::testing::Isolation;
use taskflow_schemas::{EventMeta, Priority, TaskCancelRequested, TaskCreated};
use uuid::Uuid;

pub use taskflow_platform::testing::wait_until;

/// Longer than any wait the tests allow: work that starts on time was woken for, not polled.
pub const POLL: Duration = Duration::from_secs(5);

/// One executor instance with its own database, topics and consumer group.
pub struct TestExecutor {
    pub db: DbPool,
    pub producer: EventProducer,
    pub tenant: Uuid,
}

/// An execution row as the executor keeps it.
#[derive(Debug, Clone, QueryableByName)]
pub struct ExecutionRow {
    #[diesel(sql_type = Text)]
    pub state: String,
    #[diesel(sql_type = Timestamptz)]
    pub due_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
}

/// One attempt in the execution log.
#[derive(Debug, Clone, QueryableByName)]
pub struct AttemptRow {
    #[diesel(sql_type = Timestamptz)]
    pub started_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Text>)]
    pub outcome: Option<String>,
}

#[derive(QueryableByName)]
struct EventType {
    #[diesel(sql_type = Text)]
    event_type: String,
}

impl TestExecutor {
    /// Starts an executor running at most `concurrency` attempts at once.
    pub async fn spawn(concurrency: usize) -> Self {
        let isolation = Isolation::new();
        let database_url = isolation.database("exec").await;
        isolation.ensure_topics().await;
        let id = &isolation.id;
        let config = ExecutorConfig {
            bind: "127.0.0.1:0".into(),
            database_url: database_url.clone(),
            db_pool_size: concurrency + 4,
            concurrency,
            instance: format!("it-{id}"),
            backoff: Backoff {
                base: Duration::from_millis(100),
                cap: Duration::from_millis(400),
            },
            lease_grace: Duration::from_secs(1),
            drain: Duration::from_secs(5),
            poll: POLL,
            allow_loopback: true,
            loopback_ports: Default::default(),
            allow_private: false,
            consumer_group: isolation.group("svc-executor"),
            kafka: isolation.kafka.clone(),
            registry: isolation.registry.clone(),
        };
        let app = Application::build(config)
            .await
            .expect("svc-executor builds");
        tokio::spawn(app.run_until_stopped());
        Self {
            db: db::pool(&database_url, 2).expect("pool"),
            producer: isolation.producer(isolation.codec()),
            tenant: Uuid::now_v7(),
        }
    }

    fn meta(&self) -> EventMeta {
        EventMeta::new(
            Utc::now().timestamp_millis(),
            format!("it-{}", Uuid::new_v4().simple()),
            self.tenant,
            "svc-tasks/it",
        )
    }

    /// Publishes a `noop` task of this tenant; returns its id.
    pub async fn create(&self, priority: Priority, run_at: Option<DateTime<Utc>>) -> Uuid {
        let task_id = Uuid::now_v7();
        let created = TaskCreated {
            meta: self.meta(),
            task_id,
            task_type: "noop".into(),
            priority,
            payload_json: "{}".into(),
            max_attempts: 1,
            timeout_ms: 5_000,
            labels: Default::default(),
            idempotency_key: None,
            schedule_id: None,
            run_at: run_at.map(|t| t.timestamp_millis()),
        };
        self.producer
            .publish(&created.into())
            .await
            .expect("TaskCreated published");
        task_id
    }

    pub async fn cancel(&self, task_id: Uuid) {
        let request = TaskCancelRequested {
            meta: self.meta(),
            task_id,
            reason: Some("changed my mind".into()),
        };
        self.producer
            .publish(&request.into())
            .await
            .expect("TaskCancelRequested published");
    }

    pub async fn execution(&self, task_id: Uuid) -> Option<ExecutionRow> {
        let mut conn = self.db.get().await.expect("conn");
        diesel::sql_query("SELECT state, due_at, created_at FROM executions WHERE task_id = $1")
            .bind::<SqlUuid, _>(task_id)
            .get_result(&mut conn)
            .await
            .ok()
    }

    /// Waits until the executor has queued the task (consumed its TaskCreated).
    pub async fn queued(&self, task_id: Uuid) -> ExecutionRow {
        wait_until(Duration::from_secs(30), "the task to be queued", || async {
            self.execution(task_id).await
        })
        .await
    }

    pub async fn attempts(&self, task_id: Uuid) -> Vec<AttemptRow> {
        let mut conn = self.db.get().await.expect("conn");
        diesel::sql_query(
            "SELECT started_at, outcome FROM attempts WHERE task_id = $1 ORDER BY attempt",
        )
        .bind::<SqlUuid, _>(task_id)
        .load(&mut conn)
        .await
        .expect("attempts")
    }

    /// Waits for the task's first attempt to end; returns it.
    pub async fn first_attempt_ended(&self, task_id: Uuid, within: Duration) -> AttemptRow {
        wait_until(within, "the first attempt to end", || async {
            self.attempts(task_id)
                .await
                .into_iter()
                .next()
                .filter(|a| a.outcome.is_some())
        })
        .await
    }

    /// The events the executor announced about the task (its outbox), in order.
    pub async fn announced(&self, task_id: Uuid) -> Vec<String> {
        let mut conn = self.db.get().await.expect("conn");
        let rows: Vec<EventType> = diesel::sql_query(
            "SELECT event_type FROM outbox WHERE body->>'task_id' = $1 ORDER BY id",
        )
        .bind::<Text, _>(task_id.to_string())
        .load(&mut conn)
        .await
        .expect("outbox");
        rows.into_iter().map(|r| r.event_type).collect()
    }
}
