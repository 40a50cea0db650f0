//! Wires the firer, the outbox relay, the consumer, the maintenance room and the HTTP API (with
//! the admin routes of projection rebuilds) into one process.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use taskflow_platform::db::DbPool;
use taskflow_platform::http::{KeyDirectory, correlation, problems};
use taskflow_platform::maintenance::{Cleaner, Maintenance};
use taskflow_platform::rebuild::{self, Rebuilder};
use taskflow_platform::runtime::{Connect, Identity, Running, Runtime};
use taskflow_schemas::Stream;

use crate::config::SchedulerConfig;
use crate::firer::Firer;
use crate::http::{self, AppState};
use crate::ingest::Ingest;
use crate::service::Services;
use crate::service::rebuild::Schedules;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub struct Application {
    port: u16,
    server: Server,
    pool: DbPool,
    running: Running,
}

impl Application {
    pub async fn build(config: SchedulerConfig) -> anyhow::Result<Self> {
        let instance = format!(
            "{}-{}",
            taskflow_platform::config::host_name(),
            std::process::id()
        );
        let mut runtime = Runtime::connect(Connect {
            identity: Identity {
                service: "svc-scheduler",
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
        runtime.spawn_relay(std::time::Duration::from_secs(2));
        runtime.spawn_consumer(
            &[
                Stream::TenantKeys,
                Stream::TaskExecution,
                Stream::TaskRequests,
            ],
            Ingest { db: pool.clone() },
            |_| {},
        )?;
        let firer = Firer {
            pool: pool.clone(),
            outbox_ready: runtime.outbox_ready.clone(),
            producer: runtime.identity.producer_name(),
            clock: runtime.clock.clone(),
        };
        runtime.spawn(move |stop| firer.run(stop));
        let maintenance = Maintenance {
            pool: pool.clone(),
            every: config.maintenance.every,
            cleaners: cleaners(&config),
        };
        runtime.spawn(|stop| maintenance.run(stop));

        let rebuilder = Rebuilder::new(
            pool.clone(),
            Schedules {
                clock: runtime.clock.clone(),
                decided_retention: config.decided_retention(),
            },
            runtime.identity.producer_name(),
        );
        // A job this instance's previous process was running shows as failed at once.
        if let Err(error) = rebuilder.fail_interrupted().await {
            tracing::warn!(%error, "could not mark interrupted projection rebuilds failed");
        }
        let admin = config.admin_token.clone();

        let state = web::Data::new(AppState {
            services: Services {
                pool: pool.clone(),
                clock: runtime.clock.clone(),
                outbox_ready: runtime.outbox_ready.clone(),
                producer: runtime.identity.producer_name(),
                max_per_second: config.max_per_second,
            },
        });
        let keys = KeyDirectory::data(pool.clone(), http::errors::DATABASE);
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
                .app_data(keys.clone())
                .wrap_fn(|req, srv| problems::middleware(req, srv, problems::named_slug))
                .wrap_fn(correlation::middleware)
                .configure(readiness.clone().configure())
                .configure(http::configure)
                .configure(rebuild::routes(rebuilder.clone(), admin.clone()))
                .configure(taskflow_platform::metrics::configure(scrape.clone()))
        })
        .workers(config.workers)
        .listen(listener)?
        .run();
        tracing::info!(port, "svc-scheduler listening");
        Ok(Self {
            port,
            server,
            pool,
            running: runtime.into_running(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    pub fn stop_handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.running.serve_until_stopped(self.server).await
    }
}

/// This service's retention: the occurrences of finished runs and the runs' endings; the log
/// (outbox) but for the schedules' lifecycle events, which a rebuild of the schedules needs for
/// good, for as long as the occurrences its other events rebuild; and the inbox.
pub fn cleaners(config: &SchedulerConfig) -> Vec<Cleaner> {
    vec![
        Cleaner {
            table: "occurrences",
            keep: config.retention,
            delete: crate::store::delete_occurrences_before,
        },
        Cleaner {
            table: "run_endings",
            keep: config.decided_retention(),
            delete: crate::store::delete_endings_before,
        },
        Cleaner {
            table: "outbox",
            keep: config.decided_retention(),
            delete: crate::store::delete_outbox_before,
        },
        taskflow_platform::inbox::cleaner(config.maintenance.inbox),
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
