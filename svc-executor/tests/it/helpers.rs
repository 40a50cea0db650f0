use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Integer, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
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

/// The admin token every test instance is configured with.
pub const ADMIN_TOKEN: &str = "it-admin-token-0123456789";

/// One executor instance with its own database, topics and consumer group; more instances of
/// the same service (in this process or as the real binary) join it with [`TestExecutor::start`]
/// and [`TestExecutor::process`].
pub struct TestExecutor {
    pub db: DbPool,
    pub producer: EventProducer,
    pub tenant: Uuid,
    pub isolation: Isolation,
    database_url: String,
}

/// The real svc-executor binary, run as a child process so that a test can SIGKILL or SIGTERM
/// it; killed when dropped, whatever happened.
pub struct Process(pub Child);

impl Process {
    /// Sends `signal` (`-KILL`, `-TERM`) with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(signal)
            .arg(self.0.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill {signal} failed");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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

/// One attempt in the execution log, as the tests that time attempts read it.
#[derive(Debug, Clone, QueryableByName)]
pub struct AttemptRow {
    #[diesel(sql_type = Timestamptz)]
    pub started_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Text>)]
    pub outcome: Option<String>,
}

/// One attempt in the execution log with who ran it.
#[derive(Debug, Clone, QueryableByName)]
pub struct Attempt {
    #[diesel(sql_type = Integer)]
    pub attempt: i32,
    #[diesel(sql_type = Text)]
    pub instance: String,
    #[diesel(sql_type = Timestamptz)]
    pub started_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Text>)]
    pub outcome: Option<String>,
}

/// An event the executor announced (a row of its outbox): its type and JSON body.
#[derive(Debug, Clone, QueryableByName)]
pub struct Announced {
    #[diesel(sql_type = Text)]
    pub event_type: String,
    #[diesel(sql_type = Jsonb)]
    pub body: serde_json::Value,
}

/// A task as TaskCreated carries it; `noop` by default.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub task_type: &'static str,
    pub payload: serde_json::Value,
    pub priority: Priority,
    pub max_attempts: i32,
    pub timeout_ms: i64,
    pub run_at: Option<DateTime<Utc>>,
}

impl Default for NewTask {
    fn default() -> Self {
        Self {
            task_type: "noop",
            payload: serde_json::json!({}),
            priority: Priority::Normal,
            max_attempts: 1,
            timeout_ms: 5_000,
            run_at: None,
        }
    }
}

impl NewTask {
    pub fn of(task_type: &'static str, payload: serde_json::Value) -> Self {
        Self {
            task_type,
            payload,
            ..Self::default()
        }
    }
}

impl TestExecutor {
    /// Starts an executor running at most `concurrency` attempts at once.
    pub async fn spawn(concurrency: usize) -> Self {
        let app = Self::without_instances().await;
        let instance = format!("it-{}", app.isolation.id);
        app.start(app.config(&instance, concurrency)).await;
        app
    }

    /// The database, topics and producer of a test, with no executor running yet.
    pub async fn without_instances() -> Self {
        let isolation = Isolation::new();
        let database_url = isolation.database("exec").await;
        isolation.ensure_topics().await;
        Self {
            db: db::pool(&database_url, 2).expect("pool"),
            producer: isolation.producer(isolation.codec()),
            tenant: Uuid::now_v7(),
            isolation,
            database_url,
        }
    }

    /// The configuration of an instance named `instance` of this test's executor.
    pub fn config(&self, instance: &str, concurrency: usize) -> ExecutorConfig {
        let isolation = &self.isolation;
        ExecutorConfig {
            bind: "127.0.0.1:0".into(),
            database_url: self.database_url.clone(),
            db_pool_size: concurrency + 4,
            concurrency,
            instance: instance.into(),
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
            retention: Duration::from_secs(168 * 3600),
            admin_token: taskflow_platform::rebuild::AdminToken::new(Some(ADMIN_TOKEN.into())),
            maintenance: Default::default(),
            kafka: isolation.kafka.clone(),
            registry: isolation.registry.clone(),
        }
    }

    /// Starts an instance in this process; it runs until the test ends. Returns its HTTP port.
    pub async fn start(&self, config: ExecutorConfig) -> u16 {
        let app = Application::build(config)
            .await
            .expect("svc-executor builds");
        let port = app.port();
        tokio::spawn(app.run_until_stopped());
        port
    }

    /// Starts `config` as the real svc-executor binary (a process of its own, so that it can be
    /// killed or sent SIGTERM); the broker and registry addresses come from the environment.
    pub fn process(&self, config: &ExecutorConfig) -> Process {
        let ms = |d: Duration| d.as_millis().to_string();
        Command::new(env!("CARGO_BIN_EXE_svc-executor"))
            .env("DATABASE_URL_EXECUTOR", &config.database_url)
            .env("TASKFLOW_EXECUTOR_BIND", &config.bind)
            .env(
                "TASKFLOW_EXECUTOR_CONCURRENCY",
                config.concurrency.to_string(),
            )
            .env("TASKFLOW_EXECUTOR_INSTANCE", &config.instance)
            .env("TASKFLOW_EXECUTOR_GROUP", &config.consumer_group)
            .env("TASKFLOW_TOPIC_PREFIX", config.kafka.topics.prefix())
            .env(
                "TASKFLOW_TASK_PARTITIONS",
                config.kafka.task_partitions.to_string(),
            )
            .env("TASKFLOW_BACKOFF_BASE_MS", ms(config.backoff.base))
            .env("TASKFLOW_BACKOFF_CAP_MS", ms(config.backoff.cap))
            .env("TASKFLOW_LEASE_GRACE_MS", ms(config.lease_grace))
            .env("TASKFLOW_DRAIN_MS", ms(config.drain))
            .env("TASKFLOW_EXECUTOR_POLL_MS", ms(config.poll))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .map(Process)
            .expect("svc-executor process")
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
        self.submit(NewTask {
            priority,
            run_at,
            ..NewTask::default()
        })
        .await
    }

    /// Publishes `task`'s TaskCreated for this tenant; returns the task's id.
    pub async fn submit(&self, task: NewTask) -> Uuid {
        let task_id = Uuid::now_v7();
        let created = TaskCreated {
            meta: self.meta(),
            task_id,
            task_type: task.task_type.into(),
            priority: task.priority,
            payload_json: task.payload.to_string(),
            max_attempts: task.max_attempts,
            timeout_ms: task.timeout_ms,
            labels: Default::default(),
            idempotency_key: None,
            schedule_id: None,
            run_at: task.run_at.map(|t| t.timestamp_millis()),
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

    /// Waits until the task's execution is in `state`.
    pub async fn wait_state(&self, task_id: Uuid, state: &str, within: Duration) -> ExecutionRow {
        wait_until(within, &format!("task {task_id} to be {state}"), || async {
            self.execution(task_id).await.filter(|e| e.state == state)
        })
        .await
    }

    /// The task's attempts, in order.
    pub async fn attempts(&self, task_id: Uuid) -> Vec<Attempt> {
        let mut conn = self.db.get().await.expect("conn");
        diesel::sql_query(
            "SELECT attempt, instance, started_at, outcome FROM attempts \
             WHERE task_id = $1 ORDER BY attempt",
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
                .map(|a| AttemptRow {
                    started_at: a.started_at,
                    outcome: a.outcome,
                })
        })
        .await
    }

    /// Every attempt of every task, in start order.
    pub async fn all_attempts(&self) -> Vec<Attempt> {
        let mut conn = self.db.get().await.expect("conn");
        diesel::sql_query(
            "SELECT attempt, instance, started_at, outcome FROM attempts \
             ORDER BY started_at, task_id",
        )
        .load(&mut conn)
        .await
        .expect("attempts")
    }

    /// The events the executor announced about the task (its outbox), in order.
    pub async fn announced(&self, task_id: Uuid) -> Vec<String> {
        self.events(task_id)
            .await
            .into_iter()
            .map(|e| e.event_type)
            .collect()
    }

    /// The events the executor announced about the task, with their bodies, in order (its
    /// outbox, dead letters and its internal rows excluded).
    pub async fn events(&self, task_id: Uuid) -> Vec<Announced> {
        let mut conn = self.db.get().await.expect("conn");
        diesel::sql_query(
            "SELECT event_type, body FROM outbox \
             WHERE body->>'task_id' = $1 AND destination IS NULL AND NOT internal ORDER BY id",
        )
        .bind::<Text, _>(task_id.to_string())
        .load(&mut conn)
        .await
        .expect("outbox")
    }

    /// How many terminal events (TaskCompleted, TaskCancelled, a final TaskFailed) the executor
    /// announced about the task.
    pub async fn endings(&self, task_id: Uuid) -> usize {
        self.events(task_id)
            .await
            .iter()
            .filter(|e| match e.event_type.as_str() {
                "TaskCompleted" | "TaskCancelled" => true,
                "TaskFailed" => e.body["final"] == true,
                _ => false,
            })
            .count()
    }

    /// This test's dead-letter topic of the executor's consumer group.
    pub fn dead_letter_topic(&self) -> String {
        let group = self.isolation.group("svc-executor");
        self.isolation.kafka.topics.dead_letter(&group)
    }
}

/// A database of its own, migrated, for tests that play the store directly (no executor runs
/// on it, so the interleaving is the test's).
pub async fn store_only(name: &str) -> DbPool {
    let url = Isolation::new().database(name).await;
    let pool = db::pool(&url, 2).expect("pool");
    db::migrate(&pool, svc_executor::startup::MIGRATIONS)
        .await
        .expect("migrations");
    pool
}

/// A `noop` task as ingest queues it, allowed `max_attempts` attempts.
pub fn queued_execution(task_id: Uuid, max_attempts: i32) -> svc_executor::store::NewExecution {
    svc_executor::store::NewExecution {
        task_id,
        tenant_id: Uuid::now_v7(),
        task_type: "noop".into(),
        priority: 0,
        payload: serde_json::json!({}),
        max_attempts,
        timeout_ms: 1_000,
        correlation_id: "it".into(),
        created_event_id: Uuid::now_v7(),
        created_event: serde_json::json!({}),
        trace: Default::default(),
        not_before: None,
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The one number `sql` selects `AS n`, on `conn`.
pub async fn count(conn: &mut svc_executor::store::Conn, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<Count>(conn)
        .await
        .expect("count")
        .n
}

/// `attempt` of the task ended completed, as the completer records it.
pub fn completed(task_id: Uuid, attempt: i32) -> svc_executor::store::Outcome<'static> {
    use svc_executor::domain::execution::{Due, Move};
    use svc_executor::domain::{AttemptOutcome, ExecutionState};
    svc_executor::store::Outcome {
        task_id,
        attempt,
        change: Move {
            to: ExecutionState::Completed,
            due: Due::Unchanged,
        },
        outcome: AttemptOutcome::Completed,
        error: None,
    }
}
