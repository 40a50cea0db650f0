//! Wires the HTTP API, the outbox relay and the execution-event projector into one process.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use taskflow_platform::dead_letter::DeadLetters;
use taskflow_platform::outbox::Relay;
use taskflow_platform::registry::RegistryClient;
use taskflow_platform::wiring::{self, Wired, stopped};
use taskflow_platform::{ConsumerSettings, EventConsumer};
use taskflow_schemas::Stream;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::config::TasksConfig;
use crate::domain::catalog::TaskCatalog;
use crate::http::{self, AppState, correlation};
use crate::projector::Projector;
use crate::service::Services;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub struct Application {
    port: u16,
    server: Server,
    services: Services,
    stop: watch::Sender<bool>,
    background: Vec<JoinHandle<()>>,
}

impl Application {
    pub async fn build(config: TasksConfig) -> anyhow::Result<Self> {
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
        let instance = format!(
            "{}-{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into()),
            std::process::id()
        );
        let services = Services {
            db: pool.clone(),
            catalog: Arc::new(TaskCatalog::load()?),
            policy: config.policy,
            outbox_ready: Arc::new(Notify::new()),
            producer_name: format!("svc-tasks/{}@{instance}", env!("CARGO_PKG_VERSION")),
            runtime: tokio::runtime::Handle::current(),
        };
        // A rebuild that was running when the previous process stopped shows as interrupted.
        crate::service::rebuild::fail_interrupted(&services).await?;
        let (stop, stop_rx) = watch::channel(false);

        let relay = Relay {
            db: pool.clone(),
            producer: producer.clone(),
            ready: services.outbox_ready.clone(),
            idle_poll: config.relay_idle_poll,
        };
        let mut background = Vec::new();
        if config.run_relay {
            background.push(tokio::spawn(relay.run(stopped(stop_rx.clone()))));
        }

        let consumer = EventConsumer::new(
            &config.kafka,
            codec,
            ConsumerSettings::new(
                &config.consumer_group,
                vec![config.kafka.topics.name(Stream::TaskExecution)],
            ),
            DeadLetters::new(
                producer.clone(),
                dead_letter_topic,
                config.consumer_group.clone(),
            ),
        )?;
        let projector = Projector { db: pool.clone() };
        let projector_rx = stop_rx.clone();
        background.push(tokio::spawn(async move {
            if let Err(error) = consumer.run(projector, stopped(projector_rx)).await {
                tracing::error!(%error, "execution-event consumer stopped");
            }
        }));

        let state = web::Data::new(AppState {
            services: services.clone(),
            admin_token: config.admin_token.clone(),
            producer,
            registry: RegistryClient::new(&config.registry),
            max_body_bytes: config.max_body_bytes,
        });
        let listener =
            TcpListener::bind(&config.bind).with_context(|| format!("binding {}", config.bind))?;
        let port = listener.local_addr()?.port();
        let max_body = config.max_body_bytes;
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap_fn(http::problems::middleware)
                .wrap_fn(correlation::middleware)
                .configure(|cfg| http::configure(cfg, max_body))
        })
        .workers(config.workers)
        .listen(listener)?
        .run();
        tracing::info!(port, ?config, "svc-tasks listening");
        Ok(Self {
            port,
            server,
            services,
            stop,
            background,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Serves until SIGTERM/SIGINT (actix handles them gracefully), then stops the relay and
    /// the consumer, which commits what it has stored.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        wiring::serve_until_stopped(self.server, self.stop, self.background).await
    }
}
