use std::sync::Arc;
use std::time::Duration;

use taskflow_platform::codec::EventCodec;
use taskflow_platform::testing::Isolation;
pub use taskflow_platform::testing::{RawRecord, read_topic};
use taskflow_platform::{EventProducer, KafkaSettings, RegistrySettings};
use uuid::Uuid;

/// A private corner of the shared cluster: its own topic prefix (hence its own topics and
/// registry subjects) and its own consumer groups.
pub struct TestBus {
    pub kafka: KafkaSettings,
    pub registry: RegistrySettings,
    pub codec: Arc<EventCodec>,
    pub producer: EventProducer,
    pub id: String,
}

impl TestBus {
    pub async fn start() -> Self {
        let isolation = Isolation::new();
        isolation.ensure_topics().await;
        let codec = isolation.codec();
        let producer = isolation.producer(codec.clone());
        let Isolation {
            id,
            kafka,
            registry,
        } = isolation;
        Self {
            kafka,
            registry,
            codec,
            producer,
            id,
        }
    }

    pub fn group(&self, name: &str) -> String {
        format!("it-{}-{name}", self.id)
    }

    /// A consumer in `group` that parks poison on the group's dead-letter topic.
    pub fn consumer(&self, group: &str, topics: Vec<String>) -> taskflow_platform::EventConsumer {
        let dead_letters = taskflow_platform::dead_letter::DeadLetters::new(
            self.producer.clone(),
            self.kafka.topics.dead_letter(group),
            group.to_owned(),
        );
        taskflow_platform::EventConsumer::new(
            &self.kafka,
            self.codec.clone(),
            taskflow_platform::ConsumerSettings::new(group, topics),
            dead_letters,
        )
        .expect("consumer")
    }

    /// Every record on `topic` from the beginning, until `count` have been read.
    pub async fn read_raw(&self, topic: &str, count: usize) -> Vec<RawRecord> {
        read_topic(&self.kafka.bootstrap_servers, topic, count).await
    }
}

/// A handler that forwards what it gets to the test, optionally failing its first calls.
pub struct Recorder {
    pub records: tokio::sync::mpsc::UnboundedSender<taskflow_platform::ConsumedRecord>,
    pub batches: tokio::sync::mpsc::UnboundedSender<Vec<Uuid>>,
    pub fail_first: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TestFailure(pub String);

impl taskflow_platform::BatchHandler for Recorder {
    type Error = TestFailure;

    async fn handle(
        &mut self,
        batch: &[taskflow_platform::ConsumedRecord],
    ) -> Result<(), TestFailure> {
        let _ = self
            .batches
            .send(batch.iter().map(|r| r.event.meta().event_id).collect());
        if self.fail_first > 0 {
            self.fail_first -= 1;
            return Err(TestFailure("induced handler failure".into()));
        }
        for record in batch {
            let _ = self.records.send(record.clone());
        }
        Ok(())
    }
}

pub struct Recording {
    pub records: tokio::sync::mpsc::UnboundedReceiver<taskflow_platform::ConsumedRecord>,
    pub batches: tokio::sync::mpsc::UnboundedReceiver<Vec<Uuid>>,
}

pub fn recorder() -> (Recorder, Recording) {
    let (records_tx, records) = tokio::sync::mpsc::unbounded_channel();
    let (batches_tx, batches) = tokio::sync::mpsc::unbounded_channel();
    (
        Recorder {
            records: records_tx,
            batches: batches_tx,
            fail_first: 0,
        },
        Recording { records, batches },
    )
}

/// Runs `consumer` with `handler` in the background until the returned sender fires.
pub fn spawn_consumer(
    consumer: taskflow_platform::EventConsumer,
    handler: Recorder,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), rdkafka::error::KafkaError>>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(consumer.run(handler, async move {
        let _ = stopped.await;
    }));
    (stop, task)
}

/// Receives `n` items or panics after `timeout`.
pub async fn receive<T>(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<T>,
    n: usize,
    what: &str,
) -> Vec<T> {
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        match tokio::time::timeout(Duration::from_secs(60), rx.recv()).await {
            Ok(Some(item)) => got.push(item),
            Ok(None) => panic!("channel closed after {} of {n} {what}", got.len()),
            Err(_) => panic!("timed out after {} of {n} {what}", got.len()),
        }
    }
    got
}

/// A database of its own named `it_<what>_<id>`, with only the platform's tables (outbox, inbox,
/// key directory): what the platform's own statements are tested on.
pub async fn platform_db(what: &str) -> taskflow_platform::db::DbPool {
    use taskflow_platform::db;
    let name = format!("it_{what}_{}", &Uuid::new_v4().simple().to_string()[..12]);
    let url = taskflow_platform::testing::new_database(&name).await;
    let pool = db::pool(&url, 4).expect("pool");
    db::migrate(&pool, db::PLATFORM_MIGRATIONS)
        .await
        .expect("migrated");
    pool
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The `n` that `sql` (a query selecting one bigint `n`) answers.
pub async fn count(conn: &mut diesel_async::AsyncPgConnection, sql: &str) -> i64 {
    diesel_async::RunQueryDsl::get_result::<Count>(diesel::sql_query(sql), conn)
        .await
        .expect(sql)
        .n
}
