//! One test's own corner of the shared PostgreSQL server, Kafka cluster and schema registry, so
//! tests run side by side against the real servers without seeing each other: a random id names
//! the test's databases (`it_<service>_<id>`), its topics (prefix `it-<id>.`, hence its own
//! registry subjects) and its consumer groups (`it-<id>-<name>`).

use std::sync::Arc;

use taskflow_schemas::Topics;
use uuid::Uuid;

use crate::codec::EventCodec;
use crate::config::{KafkaSettings, RegistrySettings};
use crate::producer::EventProducer;
use crate::{db, topic_admin};

const HOW: &str = "run the tests with `make test`";

/// A test's id and the broker and registry settings of its own topics.
#[derive(Debug, Clone)]
pub struct Isolation {
    /// 12 hex digits, fresh for each test.
    pub id: String,
    /// From the environment, with topics prefixed `it-<id>.` and 3 task partitions.
    pub kafka: KafkaSettings,
    pub registry: RegistrySettings,
}

impl Isolation {
    /// A fresh id and settings from the environment (`make test` sets them); the topics are
    /// not created yet (see [`Isolation::ensure_topics`]).
    pub fn new() -> Self {
        let id = Uuid::new_v4().simple().to_string()[..12].to_owned();
        let mut kafka = KafkaSettings::from_env().expect(HOW);
        kafka.topics = Topics::new(format!("it-{id}."));
        kafka.task_partitions = 3;
        let registry = RegistrySettings::from_env().expect(HOW);
        Self {
            id,
            kafka,
            registry,
        }
    }

    /// Creates the database `it_<service>_<id>`; returns its URL.
    pub async fn database(&self, service: &str) -> String {
        new_database(&format!("it_{service}_{}", self.id)).await
    }

    /// The consumer group `it-<id>-<name>`.
    pub fn group(&self, name: &str) -> String {
        format!("it-{}-{name}", self.id)
    }

    /// Creates this test's topics (an application creates them itself when it starts).
    pub async fn ensure_topics(&self) {
        topic_admin::ensure_topics(&self.kafka, &[])
            .await
            .expect("topics created");
    }

    /// A codec on this test's topics and registry subjects.
    pub fn codec(&self) -> Arc<EventCodec> {
        Arc::new(EventCodec::new(&self.registry, self.kafka.topics.clone()))
    }

    /// A producer on this test's topics, with `codec`.
    pub fn producer(&self, codec: Arc<EventCodec>) -> EventProducer {
        EventProducer::new(&self.kafka, codec).expect("producer")
    }
}

impl Default for Isolation {
    fn default() -> Self {
        Self::new()
    }
}

/// Creates the database `name` through `DATABASE_URL_ADMIN`; returns its URL.
pub async fn new_database(name: &str) -> String {
    let admin_url = std::env::var("DATABASE_URL_ADMIN").expect(HOW);
    db::create_database(&admin_url, name)
        .await
        .expect("test database")
}
