//! Wires ingestion (Kafka → executions), the dispatcher, the outbox relay, health endpoints and
//! the projection rebuild (`/v1/admin/projections/rebuild`) onto the platform's service runtime.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpServer};
use anyhow::Context;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use futures::future::BoxFuture;
use taskflow_platform::db::DbPool;
use taskflow_platform::http::{Readiness, problems};
use taskflow_platform::maintenance::{Cleaner, Maintenance};
use taskflow_platform::metrics::{self, Scrape, ScrapeGauges};
use taskflow_platform::rebuild::{self, Rebuilder};
use taskflow_platform::runtime::{Connect, Identity, Running, Runtime};
use taskflow_schemas::Stream;
use tokio::sync::Notify;

use crate::config::ExecutorConfig;
use crate::dispatch::{DispatchSettings, Dispatcher};
use crate::handlers::Handlers;
use crate::handlers::http::{HttpHandler, HttpPolicy};
use crate::ingest::Ingest;
use crate::rebuild::Executions;
use crate::store;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub struct Application {
    port: u16,
    server: Server,
    db: DbPool,
    running: Running,
}

impl Application {
    pub async fn build(config: ExecutorConfig) -> anyhow::Result<Self> {
        let mut runtime = Runtime::connect(Connect {
            identity: Identity {
                service: "svc-executor",
                version: env!("CARGO_PKG_VERSION"),
                instance: config.instance.clone(),
            },
            kafka: &config.kafka,
            registry: &config.registry,
            database_url: &config.database_url,
            pool_size: config.db_pool_size,
            migrations: MIGRATIONS,
            consumer_group: &config.consumer_group,
        })
        .await?;
        let producer_name = runtime.identity.producer_name();
        let rebuilder = Rebuilder::new(
            runtime.pool.clone(),
            Executions {
                lease_grace: config.lease_grace,
                retention: config.retention,
            },
            producer_name.clone(),
        );
        // A job this instance's previous process was running shows as failed at once.
        if let Err(error) = rebuilder.fail_interrupted().await {
            tracing::warn!(%error, "cannot mark interrupted projection rebuilds");
        }
        let admin = config.admin_token.clone();
        let pool = runtime.pool.clone();
        let work_ready = Arc::new(Notify::new());

        runtime.spawn_relay(Duration::from_secs(2));
        let ingest = Ingest {
            db: pool.clone(),
            clock: runtime.clock.clone(),
            work_ready: work_ready.clone(),
            outbox_ready: runtime.outbox_ready.clone(),
            producer: producer_name.clone(),
        };
        runtime.spawn_consumer(&[Stream::TaskRequests], ingest, |_| {})?;

        let policy = HttpPolicy {
            allow_loopback: config.allow_loopback,
            loopback_ports: config.loopback_ports.clone(),
            allow_private: config.allow_private,
            ..HttpPolicy::default()
        };
        let handlers = Handlers::new(HttpHandler::new(policy).map_err(|e| anyhow::anyhow!("{e}"))?);
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
                dead_letter_topic: runtime.dead_letters.topic().to_owned(),
            },
            handlers,
            work_ready,
            runtime.outbox_ready.clone(),
            runtime.clock.clone(),
        );
        runtime.spawn(|stop| dispatcher.run(stop));
        let maintenance = Maintenance {
            pool: pool.clone(),
            every: config.maintenance.every,
            cleaners: cleaners(&config),
        };
        runtime.spawn(|stop| maintenance.run(stop));

        // The executor needs no registry to run attempts; it is not part of its readiness.
        let readiness = Readiness {
            registry: None,
            ..runtime.readiness()
        };
        let listener =
            TcpListener::bind(&config.bind).with_context(|| format!("binding {}", config.bind))?;
        let port = listener.local_addr()?.port();
        let scrape = Scrape {
            pool: Some(pool.clone()),
            gauges: Some(Arc::new(QueueGauges)),
        };
        let server = HttpServer::new(move || {
            App::new()
                .wrap_fn(|req, srv| problems::middleware(req, srv, problems::named_slug))
                .configure(readiness.clone().configure())
                .configure(metrics::configure(scrape.clone()))
                .configure(rebuild::routes(rebuilder.clone(), admin.clone()))
        })
        .workers(1)
        .listen(listener)?
        .run();
        tracing::info!(port, instance = %config.instance, concurrency = config.concurrency, "svc-executor running");
        Ok(Self {
            port,
            server,
            db: pool,
            running: runtime.into_running(),
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
        self.running.serve_until_stopped(self.server).await
    }
}

/// `taskflow_queue_depth{state}` and `taskflow_oldest_ready_task_age_seconds`, read when
/// `/metrics` is scraped.
struct QueueGauges;

impl ScrapeGauges for QueueGauges {
    fn refresh<'a>(&'a self, pool: &'a DbPool) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Ok(mut conn) = pool.get().await else {
                return;
            };
            if let Ok(depth) = store::depth_by_state(&mut conn).await {
                for state in ["queued", "running"] {
                    let n = depth
                        .iter()
                        .find(|(s, _)| s == state)
                        .map_or(0, |(_, n)| *n);
                    metrics::QUEUE_DEPTH.with_label_values(&[state]).set(n);
                }
            }
            if let Ok(age) = store::oldest_ready_age(&mut conn).await {
                metrics::OLDEST_READY_AGE.set(age);
            }
        })
    }
}

/// This service's retention: ended executions with their attempts, the inbox, and the log by
/// the executor's own rule (`store::delete_log_before`: an execution's facts stay while its row
/// does, so a rebuild agrees with what retention left). The executions go first in a round, so
/// the log rows they leave behind may go in the same round.
pub fn cleaners(config: &ExecutorConfig) -> Vec<Cleaner> {
    vec![
        Cleaner {
            table: "executions",
            keep: config.retention,
            delete: store::delete_ended_before,
        },
        taskflow_platform::inbox::cleaner(config.maintenance.inbox),
        Cleaner {
            table: "outbox",
            keep: config.maintenance.outbox,
            delete: store::delete_log_before,
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
