//! What every service does first: its database (migrated), its topics (with its dead-letter
//! topic), the codec and the producer; and the stop signal its background loops wait for.

use std::sync::Arc;

use actix_web::dev::Server;
use anyhow::Context;
use diesel_migrations::EmbeddedMigrations;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::codec::EventCodec;
use crate::config::{KafkaSettings, RegistrySettings};
use crate::db::{self, DbPool};
use crate::producer::EventProducer;
use crate::topic_admin::ensure_topics;

pub struct Wired {
    pub pool: DbPool,
    pub codec: Arc<EventCodec>,
    pub producer: EventProducer,
    /// `taskflow.deadletter.<consumer group>.v1`, created with the other topics.
    pub dead_letter_topic: String,
}

pub async fn connect(
    kafka: &KafkaSettings,
    registry: &RegistrySettings,
    database_url: &str,
    pool_size: usize,
    migrations: EmbeddedMigrations,
    consumer_group: &str,
) -> anyhow::Result<Wired> {
    let pool = db::pool(database_url, pool_size)?;
    db::migrate(&pool, migrations)
        .await
        .context("migrating the service database")?;
    let dead_letter_topic = kafka.topics.dead_letter(consumer_group);
    ensure_topics(kafka, std::slice::from_ref(&dead_letter_topic))
        .await
        .context("creating topics")?;
    let codec = Arc::new(EventCodec::new(registry, kafka.topics.clone()));
    let producer = EventProducer::new(kafka, codec.clone())?;
    Ok(Wired {
        pool,
        codec,
        producer,
        dead_letter_topic,
    })
}

/// Resolves once `true` is sent on the channel's sender (or the sender is dropped).
pub async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Serves HTTP until SIGTERM/SIGINT (actix handles them gracefully), then tells the background
/// loops to stop and waits for them to finish their own shutdown (drain, offset commit).
pub async fn serve_until_stopped(
    server: Server,
    stop: watch::Sender<bool>,
    background: Vec<JoinHandle<()>>,
) -> anyhow::Result<()> {
    let result = server.await;
    let _ = stop.send(true);
    for task in background {
        let _ = task.await;
    }
    Ok(result?)
}
