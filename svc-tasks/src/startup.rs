//! Wires the HTTP API (with the platform's projection rebuild routes), the outbox relay and the
//! projector (`ingest`: execution events, schedule triggers) into one process.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use taskflow_platform::http::problems;
use taskflow_platform::maintenance::{Cleaner, Maintenance};
use taskflow_platform::rebuild::{self, AdminToken, Rebuilder};
use taskflow_platform::runtime::{Connect, Identity, Running, Runtime};
use taskflow_schemas::Stream;

use crate::config::{CorsOrigins, TasksConfig};
use crate::domain::catalog::TaskCatalog;
use crate::http::{self, AppState, correlation};
use crate::ingest::Ingest;
use crate::service::Services;
use crate::service::rebuild::TaskProjection;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub struct Application {
    port: u16,
    server: Server,
    services: Services,
    running: Running,
}

impl Application {
    /// Without cross-origin access: [`Application::build_with_cors`] with no origins.
    pub async fn build(config: TasksConfig) -> anyhow::Result<Self> {
        Self::build_with_cors(config, CorsOrigins::default()).await
    }

    /// Starts even while Kafka is down: submissions go to the outbox, and the relay and the
    /// projector begin once the broker answers (`/health/ready` says not ready until then).
    /// Browser pages of `cors` origins may call the API.
    pub async fn build_with_cors(config: TasksConfig, cors: CorsOrigins) -> anyhow::Result<Self> {
        let instance = format!(
            "{}-{}",
            taskflow_platform::config::host_name(),
            std::process::id()
        );
        let mut runtime = Runtime::connect(Connect {
            identity: Identity {
                service: "svc-tasks",
                version: env!("CARGO_PKG_VERSION"),
                instance,
            },
            kafka: &config.kafka,
            registry: &config.registry,
            database_url: &config.database_url,
            pool_size: config.db_pool_size,
            migrations: MIGRATIONS,
            consumer_group: &config.consumer_group,
        })
        .await?;
        let services = Services {
            db: runtime.pool.clone(),
            catalog: Arc::new(TaskCatalog::load()?),
            policy: config.policy,
            outbox_ready: runtime.outbox_ready.clone(),
            producer_name: runtime.identity.producer_name(),
            clock: runtime.clock.clone(),
        };
        let rebuilder = Rebuilder::new(
            runtime.pool.clone(),
            TaskProjection,
            runtime.identity.producer_name(),
        );
        // A rebuild that was running when the previous process stopped shows as interrupted.
        rebuilder.fail_interrupted().await?;
        // svc-tasks refuses to start without a token, so its rebuild routes are never off.
        let admin = AdminToken::new(Some(config.admin_token.clone()));
        // Keys issued before svc-tasks published key events get their events now.
        crate::service::keys::announce_backlog(&services).await?;

        if config.run_relay {
            runtime.spawn_relay(config.relay_idle_poll);
            let states = crate::state_relay::StateRelay {
                services: services.clone(),
                producer: runtime.producer.clone(),
            };
            runtime.spawn_after_topics(move |stop| states.run(stop));
        }
        let maintenance = Maintenance {
            pool: runtime.pool.clone(),
            every: config.maintenance.every,
            cleaners: cleaners(&config),
        };
        runtime.spawn(|stop| maintenance.run(stop));
        let ingest = Ingest {
            services: services.clone(),
            dead_letter_topic: runtime.dead_letters.topic().to_owned(),
        };
        runtime.spawn_consumer(
            &[Stream::TaskExecution, Stream::ScheduleTriggers],
            ingest,
            |_| {},
        )?;

        let state = web::Data::new(AppState {
            services: services.clone(),
            admin_token: config.admin_token.clone(),
            readiness: runtime.readiness(),
            max_body_bytes: config.max_body_bytes,
        });
        let listener =
            TcpListener::bind(&config.bind).with_context(|| format!("binding {}", config.bind))?;
        let port = listener.local_addr()?.port();
        let max_body = config.max_body_bytes;
        tracing::info!(cors_origins = ?cors.as_slice(), "browser pages allowed to call the api");
        let scrape = taskflow_platform::metrics::Scrape {
            pool: Some(runtime.pool.clone()),
            gauges: None,
        };
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(http::cors::cors(&cors))
                .wrap_fn(|req, srv| problems::middleware(req, srv, problems::named_slug))
                .wrap_fn(correlation::middleware)
                .configure(|cfg| http::configure(cfg, max_body))
                .configure(rebuild::routes(rebuilder.clone(), admin.clone()))
                .configure(taskflow_platform::metrics::configure(scrape.clone()))
        })
        .workers(config.workers)
        .listen(listener)?
        .run();
        tracing::info!(port, ?config, "svc-tasks listening");
        Ok(Self {
            port,
            server,
            services,
            running: runtime.into_running(),
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
        self.running.serve_until_stopped(self.server).await
    }
}

/// This service's retention: Idempotency-Keys, the inbox, and the outbox rows that are not a
/// task's log (keys, refusals, dead letters). The task log and its projection are kept: they
/// are the record of what was asked and what happened.
pub fn cleaners(config: &TasksConfig) -> Vec<Cleaner> {
    vec![
        Cleaner {
            table: "idempotency_keys",
            keep: config.idempotency_retention,
            delete: crate::store::delete_idempotency_keys_before,
        },
        taskflow_platform::inbox::cleaner(config.maintenance.inbox),
        Cleaner {
            table: "outbox",
            keep: config.maintenance.outbox,
            delete: crate::store::delete_published_outside_the_task_log,
        },
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_leave_the_platform_tables_to_the_platform() {
        taskflow_platform::testing::assert_no_platform_tables(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/migrations"
        ));
    }
}
