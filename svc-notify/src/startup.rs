//! Wires the consumer, the fan-out, retention, the projection rebuild and the HTTP API into one
//! process.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use rand::RngCore;
use taskflow_platform::db::DbPool;
use taskflow_platform::http::{correlation, problems};
use taskflow_platform::maintenance::{Cleaner, Maintenance};
use taskflow_platform::rebuild::{self, Rebuilder};
use taskflow_platform::runtime::{Connect, Identity, Running, Runtime};
use taskflow_schemas::Stream;

use crate::config::NotifyConfig;
use crate::http::{self, AppState};
use crate::hub::Hub;
use crate::ingest::Ingest;
use crate::service::rebuild::TaskViews;
use crate::store;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub struct Application {
    port: u16,
    server: Server,
    hub: Hub,
    pool: DbPool,
    running: Running,
}

impl Application {
    /// Starts while Kafka is down too: streams open and keep alive, and fill once it returns.
    pub async fn build(config: NotifyConfig) -> anyhow::Result<Self> {
        let instance = format!(
            "{}-{}",
            taskflow_platform::config::host_name(),
            std::process::id()
        );
        let owner = format!("svc-notify@{instance}");
        let mut runtime = Runtime::connect(Connect {
            identity: Identity {
                service: "svc-notify",
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
        let pool = runtime.pool.clone();
        let token_secret = {
            let mut candidate = vec![0u8; 32];
            rand::rng().fill_bytes(&mut candidate);
            let mut conn = pool.get().await.context("database for the token secret")?;
            Arc::new(store::token_secret(&mut conn, &candidate).await?)
        };
        runtime.spawn_consumer(
            &[
                Stream::TaskRequests,
                Stream::TaskExecution,
                Stream::TenantKeys,
            ],
            Ingest { db: pool.clone() },
            |_| {},
        )?;
        let rebuilder = Rebuilder::new(pool.clone(), TaskViews::default(), owner);
        // A rebuild the previous process was running shows as failed at once.
        rebuilder
            .fail_interrupted()
            .await
            .context("marking interrupted projection rebuilds")?;
        let admin_token = config.admin_token.clone();
        let hub = Hub::new(pool.clone(), config.client_buffer);
        let fan_out = hub.clone();
        runtime.spawn(move |stop| fan_out.run(stop));
        let maintenance = Maintenance {
            pool: pool.clone(),
            every: config.maintenance.every,
            cleaners: cleaners(&config),
        };
        runtime.spawn(|stop| maintenance.run(stop));

        let state = web::Data::new(AppState {
            pool: pool.clone(),
            hub: hub.clone(),
            token_secret,
            keepalive: config.keepalive,
            tasks_api_url: config.tasks_api_url.clone(),
        });
        let readiness = runtime.readiness();
        let listener =
            TcpListener::bind(&config.bind).with_context(|| format!("binding {}", config.bind))?;
        let port = listener.local_addr()?.port();
        let scrape = taskflow_platform::metrics::Scrape {
            pool: Some(runtime.pool.clone()),
            gauges: None,
        };
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap_fn(|req, srv| problems::middleware(req, srv, problems::status_slug))
                .wrap_fn(correlation::middleware)
                .configure(readiness.clone().configure())
                .configure(rebuild::routes(rebuilder.clone(), admin_token.clone()))
                .configure(http::configure)
                .configure(taskflow_platform::metrics::configure(scrape.clone()))
        })
        .workers(config.workers)
        .max_connections(config.max_connections)
        .backlog(4096)
        // Streams end with the process: do not wait 30 s for clients that never hang up.
        .shutdown_timeout(2)
        .listen(listener)?
        .run();
        tracing::info!(port, ?config.bind, "svc-notify listening");
        Ok(Self {
            port,
            server,
            hub,
            pool,
            running: runtime.into_running(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the HTTP server (and then the background loops) as SIGTERM would.
    pub fn stop_handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.running.serve_until_stopped(self.server).await
    }
}

/// This service's retention: the notification history (with the ended tasks' views and events
/// held for a creation that never came), and the inbox. A client resuming from before what was
/// pruned gets a resync (`service::resume`).
pub fn cleaners(config: &NotifyConfig) -> Vec<Cleaner> {
    vec![
        Cleaner {
            table: "notifications",
            keep: config.retention,
            delete: store::prune_before,
        },
        taskflow_platform::inbox::cleaner(config.maintenance.inbox),
        taskflow_platform::outbox::cleaner(config.maintenance.outbox),
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
