//! Wires ingestion (Kafka → executions), the dispatcher, the outbox relay and health endpoints.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use taskflow_platform::db::DbPool;
use taskflow_platform::dead_letter::DeadLetters;
use taskflow_platform::outbox::Relay;
use taskflow_platform::wiring::{self, Wired, stopped};
use taskflow_platform::{ConsumerSettings, EventConsumer, EventProducer};
use taskflow_schemas::Stream;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::config::ExecutorConfig;
use crate::dispatch::{DispatchSettings, Dispatcher};
use crate::handlers::Handlers;
use crate::handlers::http::{HttpHandler, HttpPolicy};
use crate::ingest::Ingest;
use crate::store;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub struct Application {
    port: u16,
    server: Server,
    db: DbPool,
    stop: watch::Sender<bool>,
    background: Vec<JoinHandle<()>>,
}

struct Health {
    db: DbPool,
    producer: EventProducer,
}

async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

async fn ready(health: web::Data<Health>) -> HttpResponse {
    let database = async {
        let mut conn = health.db.get().await.map_err(|e| e.to_string())?;
        store::ping(&mut conn).await.map_err(|e| e.to_string())
    };
    let (database, kafka) = tokio::join!(
        database,
        health.producer.check_broker(Duration::from_secs(2))
    );
    let check = |r: &Result<(), String>| match r {
        Ok(()) => serde_json::json!({"status": "up"}),
        Err(e) => serde_json::json!({"status": "down", "error": e}),
    };
    let body =
        serde_json::json!({"checks": {"database": check(&database), "kafka": check(&kafka)}});
    if database.is_ok() && kafka.is_ok() {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

impl Application {
    pub async fn build(config: ExecutorConfig) -> anyhow::Result<Self> {
        let Wired {
            pool,
            codec,
            producer,
            dead_letter_topic,
        } = wiring::connect(
            &config.kafka,
            &config.registry,
            &config.database_url,
            config.db_pool_size,
            MIGRATIONS,
            &config.consumer_group,
        )
        .await?;
        let producer_name = format!(
            "svc-executor/{}@{}",
            env!("CARGO_PKG_VERSION"),
            config.instance
        );
        let outbox_ready = Arc::new(Notify::new());
        let work_ready = Arc::new(Notify::new());
        let (stop, stop_rx) = watch::channel(false);
        let mut background = Vec::new();

        let relay = Relay {
            db: pool.clone(),
            producer: producer.clone(),
            ready: outbox_ready.clone(),
            idle_poll: Duration::from_millis(200),
        };
        background.push(tokio::spawn(relay.run(stopped(stop_rx.clone()))));

        let consumer = EventConsumer::new(
            &config.kafka,
            codec,
            ConsumerSettings::new(
                &config.consumer_group,
                vec![config.kafka.topics.name(Stream::TaskRequests)],
            ),
            DeadLetters::new(
                producer.clone(),
                dead_letter_topic.clone(),
                config.consumer_group.clone(),
            ),
        )?;
        let ingest = Ingest {
            db: pool.clone(),
            work_ready: work_ready.clone(),
            outbox_ready: outbox_ready.clone(),
            producer: producer_name.clone(),
        };
        let ingest_rx = stop_rx.clone();
        background.push(tokio::spawn(async move {
            if let Err(error) = consumer.run(ingest, stopped(ingest_rx)).await {
                tracing::error!(%error, "TaskCreated consumer stopped");
            }
        }));

        let policy = HttpPolicy {
            allow_loopback: config.allow_loopback,
            allow_private: config.allow_private,
            ..HttpPolicy::default()
        };
        let handlers = Handlers {
            http: HttpHandler::new(policy).map_err(|e| anyhow::anyhow!("{e}"))?,
        };
        let dispatcher = Dispatcher::new(
            pool.clone(),
            DispatchSettings {
                instance: config.instance.clone(),
                concurrency: config.concurrency,
                lease_grace: config.lease_grace,
                poll: config.poll,
                backoff: config.backoff,
                drain: config.drain,
                producer: producer_name,
                dead_letter_topic,
            },
            handlers,
            work_ready,
            outbox_ready,
            taskflow_platform::clock::system(),
        );
        background.push(tokio::spawn(dispatcher.run(stopped(stop_rx))));

        let health = web::Data::new(Health {
            db: pool.clone(),
            producer,
        });
        let listener =
            TcpListener::bind(&config.bind).with_context(|| format!("binding {}", config.bind))?;
        let port = listener.local_addr()?.port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(health.clone())
                .route("/health/live", web::get().to(live))
                .route("/health/ready", web::get().to(ready))
        })
        .workers(1)
        .listen(listener)?
        .run();
        tracing::info!(port, instance = %config.instance, concurrency = config.concurrency, "svc-executor running");
        Ok(Self {
            port,
            server,
            db: pool,
            stop,
            background,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn db(&self) -> &DbPool {
        &self.db
    }

    /// Runs until SIGTERM/SIGINT: then stops taking work, lets running attempts finish within
    /// the drain time (releasing the rest), and commits consumed offsets.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        wiring::serve_until_stopped(self.server, self.stop, self.background).await
    }
}
