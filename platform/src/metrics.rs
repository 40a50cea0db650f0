//! The `GET /metrics` endpoint (Prometheus text format) each service mounts with [`configure`],
//! and, re-exported, every metric TaskFlow exports (defined in `instruments.rs`, which the
//! pipeline modules count into; this module reads the outbox, so it sits above them).
//!
//! Gauges that describe the database (outbox backlog, queue depth) are read when scraped.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use futures::future::BoxFuture;

use crate::db::DbPool;
pub use crate::instruments::*;

/// A service's own gauges, read from its database when `/metrics` is scraped.
pub trait ScrapeGauges: Send + Sync {
    fn refresh<'a>(&'a self, pool: &'a DbPool) -> BoxFuture<'a, ()>;
}

/// What `/metrics` reads when scraped.
#[derive(Clone, Default)]
pub struct Scrape {
    /// The service's database, for the outbox gauges.
    pub pool: Option<DbPool>,
    pub gauges: Option<Arc<dyn ScrapeGauges>>,
}

/// Mounts `GET /metrics`.
pub fn configure(scrape: Scrape) -> impl FnOnce(&mut web::ServiceConfig) + Clone {
    move |cfg| {
        cfg.app_data(web::Data::new(scrape))
            .route("/metrics", web::get().to(metrics));
    }
}

/// Gauges are read at most this long; a slow database leaves their last values.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(2);

async fn metrics(scrape: web::Data<Scrape>) -> HttpResponse {
    if let Some(pool) = &scrape.pool {
        let refresh = async {
            refresh_outbox(pool).await;
            if let Some(gauges) = &scrape.gauges {
                gauges.refresh(pool).await;
            }
        };
        let _ = tokio::time::timeout(SCRAPE_TIMEOUT, refresh).await;
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(render())
}

async fn refresh_outbox(pool: &DbPool) {
    let Ok(mut conn) = pool.get().await else {
        return;
    };
    if let Ok((backlog, oldest)) = crate::outbox::backlog(&mut conn).await {
        OUTBOX_BACKLOG.set(backlog);
        OUTBOX_OLDEST_AGE.set(oldest);
    }
}
