//! The service runtime: what every TaskFlow service does around its own logic, written once.
//!
//! [`Runtime::connect`] opens the migrated database (platform tables first), the codec, the
//! producer and the registry client, and makes sure the topics exist — in the background when
//! Kafka is down at start, so a service can start (and svc-tasks accept work into its outbox)
//! during a broker outage; its relay and consumers begin once the topics are there, and
//! `/health/ready` says not ready until then. With `TASKFLOW_CREATE_TOPICS=false` the topics are
//! only looked up: one missing stops the service, at start (`connect` fails) or, when Kafka was
//! down at start, as soon as it answers (`serve_until_stopped` ends with that error). Then a
//! service spawns its outbox relay, its consumers (poison is dead-lettered by the consumer
//! itself) and its own loops, and finally [`Running::serve_until_stopped`] serves HTTP until
//! SIGTERM/SIGINT and waits for every background loop's own shutdown (drain, offset commit).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use anyhow::Context;
use diesel_migrations::EmbeddedMigrations;
use taskflow_schemas::Stream;
use tokio::sync::{Notify, oneshot, watch};
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
use crate::topic_admin::{TopicAdminError, prepare_topics, verify_topics};

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
    fatal: oneshot::Receiver<String>,
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
        let (fatal_tx, fatal) = oneshot::channel();
        let extra = vec![dead_letter_topic];
        // Topics managed elsewhere are looked up before the service starts, so that a missing
        // one stops it here, before it serves; only a broker that does not answer defers that
        // to the background, like creating them.
        let verified = !c.kafka.create_topics
            && match verify_topics(c.kafka, &extra).await {
                Ok(()) => true,
                Err(error @ TopicAdminError::Missing { .. }) => return Err(error.into()),
                Err(error) => {
                    tracing::warn!(%error, "topics not verified yet (is Kafka up?); starting, and verifying in the background");
                    false
                }
            };
        let (topics_tx, topics_ready) = watch::channel(verified);
        let mut background = Vec::new();
        if !verified {
            let kafka = c.kafka.clone();
            background.push(tokio::spawn(topics_in_background(
                move || {
                    let (kafka, extra) = (kafka.clone(), extra.clone());
                    async move { prepare_topics(&kafka, &extra).await }
                },
                topics_tx,
                fatal_tx,
                stopped(stop_rx),
            )));
        }
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
            fatal,
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
            fatal: self.fatal,
        }
    }
}

/// The background loops of a started service.
pub struct Running {
    stop: watch::Sender<bool>,
    background: Vec<JoinHandle<()>>,
    /// Why the service cannot go on, said at most once (topics that must exist and do not);
    /// closed without a word when all is well.
    fatal: oneshot::Receiver<String>,
}

impl Running {
    /// Asks every background loop to stop and waits for them (no HTTP server involved).
    pub async fn stop(self) {
        halt(self.stop, self.background).await;
    }

    /// Serves HTTP until SIGTERM/SIGINT (actix handles them gracefully) or until the service
    /// cannot go on, then tells the background loops to stop and waits for them to finish their
    /// own shutdown. The latter is an error, so the process exits non-zero and says why.
    pub async fn serve_until_stopped(self, server: Server) -> anyhow::Result<()> {
        let Running {
            stop,
            background,
            fatal,
        } = self;
        let handle = server.handle();
        let mut server = std::pin::pin!(server);
        let result = tokio::select! {
            served = &mut server => served.map_err(anyhow::Error::from),
            Ok(reason) = fatal => {
                // Gracefully: requests in flight still finish (a submission lands in the outbox).
                // Together: the server future itself carries out the stop it is asked for.
                let _ = tokio::join!(handle.stop(true), server);
                Err(anyhow::anyhow!(reason))
            }
        };
        halt(stop, background).await;
        result
    }
}

async fn halt(stop: watch::Sender<bool>, background: Vec<JoinHandle<()>>) {
    let _ = stop.send(true);
    for task in background {
        let _ = task.await;
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

/// Runs `prepare` (create or verify the topics) until it succeeds, retrying while Kafka does
/// not answer, then says so on `ready`. Topics that must exist and do not are not retried:
/// waiting would only hide the mistake, so `fatal` gets the one line that ends the service.
async fn topics_in_background<F, Fut>(
    mut prepare: F,
    ready: watch::Sender<bool>,
    fatal: oneshot::Sender<String>,
    stop: impl Future<Output = ()>,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), TopicAdminError>>,
{
    tokio::pin!(stop);
    let mut failures = 0u32;
    loop {
        match prepare().await {
            Ok(()) => {
                let _ = ready.send(true);
                return;
            }
            Err(error @ TopicAdminError::Missing { .. }) => {
                let _ = fatal.send(error.to_string());
                return;
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::warn!(%error, failures, "topics not ready yet (is Kafka up?); retrying");
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

#[cfg(test)]
mod tests {
    use actix_web::{App, HttpServer};
    use rdkafka::error::{KafkaError, RDKafkaErrorCode};

    use super::*;

    fn unreachable() -> TopicAdminError {
        TopicAdminError::Client(KafkaError::MetadataFetch(
            RDKafkaErrorCode::OperationTimedOut,
        ))
    }

    fn server() -> Server {
        HttpServer::new(App::new)
            .workers(1)
            .disable_signals()
            .bind(("127.0.0.1", 0))
            .expect("bound")
            .run()
    }

    /// The topics task fed `answers` in turn, and the [`Running`] it belongs to.
    fn running(answers: Vec<Result<(), TopicAdminError>>) -> (Running, watch::Receiver<bool>) {
        let mut answers = answers.into_iter();
        let (ready_tx, ready) = watch::channel(false);
        let (fatal_tx, fatal) = oneshot::channel();
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(topics_in_background(
            move || std::future::ready(answers.next().expect("asked once more than expected")),
            ready_tx,
            fatal_tx,
            stopped(stop_rx),
        ));
        let running = Running {
            stop,
            background: vec![task],
            fatal,
        };
        (running, ready)
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn topics_found_missing_once_kafka_answers_stop_a_serving_service_with_that_line() {
        let missing = TopicAdminError::Missing {
            topics: vec!["taskflow.deadletter.svc-x.v1".into()],
            bootstrap: "kafka:9092".into(),
        };
        let (running, ready) = running(vec![Err(unreachable()), Err(missing)]);
        let served = tokio::time::timeout(
            Duration::from_secs(30),
            running.serve_until_stopped(server()),
        )
        .await
        .expect("the service stopped by itself");
        let error = served
            .expect_err("stopping for missing topics is an error")
            .to_string();
        assert!(
            error.contains("taskflow.deadletter.svc-x.v1")
                && error.contains("TASKFLOW_CREATE_TOPICS=false"),
            "{error}"
        );
        assert!(!*ready.borrow(), "said ready without its topics");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn topics_that_turn_up_make_the_service_ready_and_it_serves_on() {
        let (running, mut ready) = running(vec![Err(unreachable()), Ok(())]);
        let server = server();
        let handle = server.handle();
        let serving = tokio::spawn(running.serve_until_stopped(server));
        tokio::time::timeout(Duration::from_secs(30), ready.wait_for(|r| *r))
            .await
            .expect("ready once the topics are there")
            .expect("ready sent");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!serving.is_finished(), "stopped although nothing is wrong");
        handle.stop(true).await;
        serving
            .await
            .expect("joined")
            .expect("a stop asked for is no error");
    }
}
