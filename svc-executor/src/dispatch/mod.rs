//! Running the queue: leases due executions, runs them under their timeout, and records each
//! outcome with a guarded state change: only the instance that still holds the attempt's lease
//! may end it, so a stalled or partitioned instance that wakes up late records nothing.
//!
//! One room per job, as River's worker has its producer, executor, completer and maintenance:
//!
//! | room | its job |
//! |---|---|
//! | `claimer` | the loop: waits for due work and a free slot, leases executions, starts their attempts |
//! | `attempt` | runs one attempt (timeout, cancel flag, a handler's panic caught) and decides what follows |
//! | `progress` | a running handler's progress reports, published while its lease holds |
//! | `cancels` | the cancel flags of this instance's running attempts, read from the database |
//! | `completer` | records finished attempts, many per transaction, with their events and dead letters |
//! | `rescuer` | a dead or stalled instance's attempt, taken over once its lease expired |
//! | `drain` | on SIGTERM: running attempts finish within the drain time, the rest is given back |
//!
//! `Dispatcher` below only wires them: claimer → attempt → (channel) → completer, then drain.

mod attempt;
mod cancels;
mod claimer;
mod completer;
mod drain;
mod progress;
mod rescuer;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use taskflow_platform::clock::SharedClock;
use taskflow_platform::db::DbPool;
use tokio::sync::{Notify, mpsc};

use crate::domain::backoff::Backoff;
use crate::handlers::Handlers;
use attempt::Runner;
use cancels::Cancels;
use claimer::Claimer;
use completer::Completer;
use progress::ProgressOutbox;

#[derive(Clone)]
pub struct DispatchSettings {
    /// This instance's name; it owns the leases it takes.
    pub instance: String,
    /// Attempts running at once in this instance.
    pub concurrency: usize,
    /// Added to a task's timeout to form its lease.
    pub lease_grace: Duration,
    /// Longest wait between looks for due work (retries become due without a wake-up).
    pub poll: Duration,
    pub backoff: Backoff,
    /// On shutdown, how long running attempts may take to finish before they are released.
    pub drain: Duration,
    /// `svc-executor/<version>@<instance>`
    pub producer: String,
    /// Where tasks that fail for good are parked (their TaskCreated, with the reason).
    pub dead_letter_topic: String,
}

pub struct Dispatcher {
    db: DbPool,
    settings: Arc<DispatchSettings>,
    claimer: Claimer,
    completer: Completer,
}

impl Dispatcher {
    pub fn new(
        db: DbPool,
        settings: DispatchSettings,
        handlers: Handlers,
        work_ready: Arc<Notify>,
        outbox_ready: Arc<Notify>,
        clock: SharedClock,
    ) -> Self {
        let settings = Arc::new(settings);
        let (finished, outcomes) = mpsc::unbounded_channel();
        let cancels = Arc::new(Cancels::default());
        let runner = Arc::new(Runner {
            settings: settings.clone(),
            handlers,
            clock: clock.clone(),
            cancels: cancels.clone(),
            progress: Arc::new(ProgressOutbox {
                db: db.clone(),
                clock: clock.clone(),
                instance: settings.instance.clone(),
                outbox_ready: outbox_ready.clone(),
            }),
            finished,
        });
        Self {
            claimer: Claimer {
                db: db.clone(),
                settings: settings.clone(),
                clock: clock.clone(),
                outbox_ready: outbox_ready.clone(),
                work_ready: work_ready.clone(),
                cancels,
                runner,
            },
            completer: Completer {
                db: db.clone(),
                settings: settings.clone(),
                outbox_ready,
                work_ready,
                clock,
                outcomes,
            },
            db,
            settings,
        }
    }

    /// Claims and runs work until `shutdown`, then drains. The completer outlives the claimer
    /// so that attempts ending during the drain are still recorded.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let completer = tokio::spawn(self.completer.run());
        let running = self.claimer.run(shutdown).await;
        drain::drain(&self.db, &self.settings, running).await;
        completer.abort();
    }
}
