//! The service runtime: what every TaskFlow service does around its own logic, written once.
//!
//! [`Runtime::connect`] opens the migrated database (platform tables first), the codec, the
//! producer and the registry client, and makes sure the topics exist — in the background when
//! Kafka is down at start, so a service can start (and svc-tasks accept work into its outbox)
//! during a broker outage; its relay and consumers begin once the topics are there, and
//! `/health/ready` says not ready until then. Then a service spawns its outbox relay, its
//! consumers (poison is dead-lettered by the consumer itself) and its own loops, and finally
//! [`Running::serve_until_stopped`] serves HTTP until SIGTERM/SIGINT and waits for every
//! background loop's own shutdown (drain, offset commit).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use anyhow::Context;
use diesel_migrations::EmbeddedMigrations;
use taskflow_schemas::Stream;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::backoff;
use crate::clock::{self, SharedClock};
use crate::codec::EventCodec;
use crate::config::{KafkaSettings, RegistrySettings};
use crate::consumer::{BatchHandler, ConsumerSettings, EventConsumer};
use crate::db::{self, DbPool};
use crate::dead_letter::DeadLetters;
use crate::http::Readiness;
use crate::outbox::Relay;
use crate::producer::EventProducer;
use crate::registry::RegistryClient;
use crate::topic_admin::ensure_topics;

/// Who is running: names the producer of every event and the instance in logs.
#[derive(Debug, Clone)]
pub struct Identity {
    /// e.g. `svc-executor`
    pub service: &'static str,
    pub version: &'static str,
    /// This process among the service's instances, e.g. `executor-2`.
    pub instance: String,
}

impl Identity {
    /// `svc-executor/0.1.0@executor-2`: the `producer` field of every event this process writes.
    pub fn producer_name(&self) -> String {
        format!("{}/{}@{}", self.service, self.version, self.instance)
    }
}

/// What [`Runtime::connect`] needs.
pub struct Connect<'a> {
    pub identity: Identity,
    pub kafka: &'a KafkaSettings,
    pub registry: &'a RegistrySettings,
    pub database_url: &'a str,
    pub pool_size: usize,
    /// The service's own migrations (the platform's run first).
    pub migrations: EmbeddedMigrations,
    /// The service's consumer group; its dead-letter topic is named after it.
    pub consumer_group: &'a str,
}

/// Resolves once the service is asked to stop.
pub type StopSignal = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

pub struct Runtime {
    pub identity: Identity,
    pub kafka: KafkaSettings,
    pub pool: DbPool,
    pub codec: Arc<EventCodec>,
    pub producer: EventProducer,
    pub registry: RegistryClient,
    /// `taskflow.deadletter.<consumer group>.v1`
    pub dead_letters: DeadLetters,
    /// Wakes this process's relay after a commit that wrote outbox rows.
    pub outbox_ready: Arc<Notify>,
    pub clock: SharedClock,
    consumer_group: String,
    topics_ready: watch::Receiver<bool>,
    stop: watch::Sender<bool>,
    background: Vec<JoinHandle<()>>,
}

impl Runtime {
    pub async fn connect(c: Connect<'_>) -> anyhow::Result<Self> {
        let pool = db::pool(c.database_url, c.pool_size)?;
        wait_for_database(&pool, c.identity.service).await?;
        db::migrate(&pool, c.migrations)
            .await
            .context("migrating the service database")?;
        let codec = Arc::new(EventCodec::new(c.registry, c.kafka.topics.clone()));
        let producer = EventProducer::new(c.kafka, codec.clone())?;
        let dead_letter_topic = c.kafka.topics.dead_letter(c.consumer_group);
        let dead_letters = DeadLetters::new(
            producer.clone(),
            dead_letter_topic.clone(),
            c.consumer_group.to_owned(),
        );
        let (stop, stop_rx) = watch::channel(false);
        let (topics_tx, topics_ready) = watch::channel(false);
        let background = vec![tokio::spawn(create_topics(
            c.kafka.clone(),
            dead_letter_topic,
            topics_tx,
            stopped(stop_rx),
        ))];
        Ok(Self {
            identity: c.identity,
            kafka: c.kafka.clone(),
            pool,
            codec,
            producer,
            registry: RegistryClient::new(c.registry),
            dead_letters,
            outbox_ready: Arc::new(Notify::new()),
            clock: clock::system(),
            consumer_group: c.consumer_group.to_owned(),
            topics_ready,
            stop,
            background,
        })
    }

    /// A future that resolves when the service is asked to stop.
    pub fn stop_signal(&self) -> StopSignal {
        Box::pin(stopped(self.stop.subscribe()))
    }

    /// Database, Kafka and registry: what `/health/ready` checks for a service that uses all.
    pub fn readiness(&self) -> Readiness {
        Readiness {
            database: Some(self.pool.clone()),
            kafka: Some(self.producer.clone()),
            registry: Some(self.registry.clone()),
        }
    }

    /// Runs `work` in the background until it returns; it gets the stop signal.
    pub fn spawn<F, Fut>(&mut self, work: F)
    where
        F: FnOnce(StopSignal) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let task = work(self.stop_signal());
        self.background.push(tokio::spawn(task));
    }

    /// Runs `work` once the topics exist (at once, unless Kafka was down at start).
    pub fn spawn_after_topics<F, Fut>(&mut self, work: F)
    where
        F: FnOnce(StopSignal) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut topics_ready = self.topics_ready.clone();
        let mut stop = self.stop_signal();
        let signal = self.stop_signal();
        self.background.push(tokio::spawn(async move {
            tokio::select! {
                ready = topics_ready.wait_for(|ready| *ready) => {
                    if ready.is_err() {
                        return;
                    }
                }
                () = &mut stop => return,
            }
            work(signal).await;
        }));
    }

    /// The transactional outbox relay of this process.
    pub fn spawn_relay(&mut self, idle_poll: Duration) {
        let relay = Relay {
            db: self.pool.clone(),
            producer: self.producer.clone(),
            ready: self.outbox_ready.clone(),
            idle_poll,
        };
        self.spawn_after_topics(move |stop| relay.run(stop));
    }

    /// Consumes `streams` in the service's consumer group with `handler`; undecodable records
    /// go to the group's dead-letter topic. `tune` adjusts batch size, linger, retry waits.
    pub fn spawn_consumer<H>(
        &mut self,
        streams: &[Stream],
        handler: H,
        tune: impl FnOnce(&mut ConsumerSettings),
    ) -> anyhow::Result<()>
    where
        H: BatchHandler + 'static,
    {
        let topics = streams.iter().map(|s| self.kafka.topics.name(*s)).collect();
        let mut settings = ConsumerSettings::new(&self.consumer_group, topics);
        tune(&mut settings);
        let consumer = EventConsumer::new(
            &self.kafka,
            self.codec.clone(),
            settings,
            self.dead_letters.clone(),
        )?;
        let group = self.consumer_group.clone();
        self.spawn_after_topics(move |stop| async move {
            if let Err(error) = consumer.run(handler, stop).await {
                tracing::error!(%error, %group, "consumer stopped");
            }
        });
        Ok(())
    }

    /// Hands the background loops over to [`Running`], which serves and then stops them.
    pub fn into_running(self) -> Running {
        Running {
            stop: self.stop,
            background: self.background,
        }
    }
}

/// The background loops of a started service.
pub struct Running {
    stop: watch::Sender<bool>,
    background: Vec<JoinHandle<()>>,
}

impl Running {
    /// Asks every background loop to stop and waits for them (no HTTP server involved).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.background {
            let _ = task.await;
        }
    }

    /// Serves HTTP until SIGTERM/SIGINT (actix handles them gracefully), then tells the
    /// background loops to stop and waits for them to finish their own shutdown.
    pub async fn serve_until_stopped(self, server: Server) -> anyhow::Result<()> {
        let result = server.await;
        self.stop().await;
        Ok(result?)
    }
}

/// How long a starting service waits for PostgreSQL before it gives up (and exits non-zero,
/// for its supervisor to restart it).
const DATABASE_STARTUP_WAIT: Duration = Duration::from_secs(300);

/// Waits until PostgreSQL answers, with a growing pause (0.5 s up to 5 s) while it cannot be
/// reached — it may still be starting.
async fn wait_for_database(pool: &DbPool, service: &str) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + DATABASE_STARTUP_WAIT;
    let mut failures = 0u32;
    loop {
        match pool.get().await {
            Ok(_) => {
                if failures > 0 {
                    tracing::info!(service, failures, "database reachable");
                }
                return Ok(());
            }
            Err(error) if tokio::time::Instant::now() < deadline => {
                failures = failures.saturating_add(1);
                let wait =
                    backoff::step(Duration::from_millis(500), Duration::from_secs(5), failures);
                tracing::warn!(service, %error, failures, retry_in_ms = wait.as_millis() as u64, "database not reachable yet; waiting for it before starting");
                tokio::time::sleep(wait).await;
            }
            Err(error) => {
                return Err(error).context(format!(
                    "the database was not reachable within {} s",
                    DATABASE_STARTUP_WAIT.as_secs()
                ));
            }
        }
    }
}

/// Resolves once `true` is sent on the channel's sender (or the sender is dropped).
pub async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Creates the topics, retrying while Kafka does not answer, then says so on `ready`.
async fn create_topics(
    kafka: KafkaSettings,
    dead_letter_topic: String,
    ready: watch::Sender<bool>,
    stop: impl Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut failures = 0u32;
    loop {
        match ensure_topics(&kafka, std::slice::from_ref(&dead_letter_topic)).await {
            Ok(()) => {
                let _ = ready.send(true);
                return;
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::warn!(%error, failures, "topics not created yet (is Kafka up?); retrying");
            }
        }
        let wait = backoff::step(
            Duration::from_millis(500),
            Duration::from_secs(10),
            failures,
        );
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}
