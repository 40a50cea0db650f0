//! The maintenance room every service runs: one cleaner per growing table, each with its own
//! retention, run together every interval (River's maintenance services work this way). A
//! cleaner deletes what is past its time a batch at a time, so a long backlog never holds a big
//! transaction or many row locks; what each run deleted is counted in
//! `taskflow_pruned_rows_total{table}`. The SQL of each cleaner lives in the store room of the
//! service that owns the table (the inbox's, a platform table, in `inbox.rs`); this file only
//! schedules them.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
pub use futures::future::BoxFuture;

use crate::config::{ConfigError, Setting, Vars};
use crate::db::{DbError, DbPool};
use crate::instruments::PRUNED_ROWS;
use crate::runtime::StopSignal;

/// Rows one statement deletes at most.
pub const BATCH: i64 = 5_000;

/// Deletes up to `limit` rows of one table that are past `cut_off`; returns how many.
pub type Delete = for<'a> fn(
    &'a mut AsyncPgConnection,
    DateTime<Utc>,
    i64,
) -> BoxFuture<'a, Result<usize, diesel::result::Error>>;

/// One table's retention.
#[derive(Clone, Copy)]
pub struct Cleaner {
    /// The table, as the metric labels it.
    pub table: &'static str,
    /// How long a row is kept once it may go (what "may go" means is the statement's).
    pub keep: Duration,
    pub delete: Delete,
}

impl std::fmt::Debug for Cleaner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cleaner")
            .field("table", &self.table)
            .field("keep", &self.keep)
            .finish()
    }
}

/// How often a service's cleaners run.
pub const EVERY: Setting = Setting::or(
    "TASKFLOW_MAINTENANCE_EVERY_SECS",
    "300",
    "how often retention runs (each table's own retention decides what goes)",
);

/// What every service reads for its maintenance room; each adds its own tables' retentions.
pub const MAINTENANCE_SETTINGS: [Setting; 3] =
    [EVERY, crate::inbox::RETENTION, crate::outbox::RETENTION];

/// The settings every service shares: the round's interval and the retentions of the inbox and
/// of the outbox log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaintenanceSettings {
    pub every: Duration,
    pub inbox: Duration,
    pub outbox: Duration,
}

impl Default for MaintenanceSettings {
    /// The table's defaults: a round every 5 minutes, consumed ids and published events kept
    /// 7 days.
    fn default() -> Self {
        Self {
            every: Duration::from_secs(300),
            inbox: Duration::from_secs(168 * 3600),
            outbox: Duration::from_secs(168 * 3600),
        }
    }
}

impl MaintenanceSettings {
    pub fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        let every: u64 = EVERY.parse(vars)?;
        if every == 0 {
            return Err(ConfigError::Invalid {
                name: EVERY.name,
                value: "0".into(),
                reason: "must be at least 1 second".into(),
            });
        }
        Ok(Self {
            every: Duration::from_secs(every),
            inbox: hours(&crate::inbox::RETENTION, vars)?,
            outbox: hours(&crate::outbox::RETENTION, vars)?,
        })
    }
}

/// A retention setting in hours, read as a [`Duration`]; 0 is refused (a table kept for no
/// time would lose rows still in use).
pub fn hours(setting: &Setting, vars: Vars) -> Result<Duration, ConfigError> {
    let hours: u64 = setting.parse(vars)?;
    if hours == 0 {
        return Err(ConfigError::Invalid {
            name: setting.name,
            value: "0".into(),
            reason: "a retention must be at least 1 hour".into(),
        });
    }
    Ok(Duration::from_secs(hours * 3600))
}

/// The cleaners of one service and how often they run.
#[derive(Clone)]
pub struct Maintenance {
    pub pool: DbPool,
    pub every: Duration,
    pub cleaners: Vec<Cleaner>,
}

impl Maintenance {
    /// One round: every cleaner until it finds fewer than a batch; returns what each deleted,
    /// in the cleaners' order. Times are the database's (`now()` of the statements is not used:
    /// the cut-off is computed here, so that a test can name it).
    pub async fn run_once(&self) -> Result<Vec<(&'static str, usize)>, DbError> {
        self.run_at(Utc::now()).await
    }

    /// [`Self::run_once`] as if it were `now`.
    pub async fn run_at(&self, now: DateTime<Utc>) -> Result<Vec<(&'static str, usize)>, DbError> {
        let mut conn = self.pool.get().await?;
        let mut counts = Vec::with_capacity(self.cleaners.len());
        for cleaner in &self.cleaners {
            let keep = chrono::Duration::from_std(cleaner.keep).unwrap_or(chrono::Duration::MAX);
            let cut_off = now
                .checked_sub_signed(keep)
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            let mut total = 0;
            loop {
                let deleted = (cleaner.delete)(&mut conn, cut_off, BATCH).await?;
                total += deleted;
                if (deleted as i64) < BATCH {
                    break;
                }
            }
            if total > 0 {
                PRUNED_ROWS
                    .with_label_values(&[cleaner.table])
                    .inc_by(total as u64);
                tracing::info!(
                    table = cleaner.table,
                    deleted = total,
                    "retention: old rows deleted"
                );
            }
            counts.push((cleaner.table, total));
        }
        Ok(counts)
    }

    /// Runs a round every `every` until `stop`; a failed round is retried at the next.
    pub async fn run(self, mut stop: StopSignal) {
        loop {
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(self.every) => {}
            }
            if let Err(error) = self.run_once().await {
                tracing::warn!(%error, "retention round failed; retrying at the next");
            }
        }
    }
}
