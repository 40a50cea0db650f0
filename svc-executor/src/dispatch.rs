//! Leases due executions, runs them under their timeout, and records each outcome with a
//! guarded state change: only the instance that still holds the attempt's lease may end it, so
//! a stalled or partitioned instance that wakes up late records nothing.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel_async::AsyncConnection;
use taskflow_platform::clock::SharedClock;
use taskflow_platform::db::DbPool;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tracing::Instrument;
use uuid::Uuid;

use crate::domain::HandlerError;
use crate::domain::backoff::Backoff;
use crate::domain::execution::{Due, after_attempt};
use crate::domain::outcome::{AttemptResult, Next, decide};
use crate::events::AttemptRef;
use crate::handlers::{Handlers, Progress};
use crate::store::{self, Claimed};

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("no database connection: {0}")]
    Pool(#[from] diesel_async::pooled_connection::deadpool::PoolError),
    #[error(transparent)]
    Outbox(#[from] taskflow_platform::outbox::OutboxError),
}

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

struct Shared {
    db: DbPool,
    settings: DispatchSettings,
    handlers: Handlers,
    outbox_ready: Arc<Notify>,
    cancels: Mutex<HashMap<Uuid, watch::Sender<bool>>>,
    /// Stamps events and times retries (leases and due work are judged by the database's clock).
    clock: SharedClock,
}

pub struct Dispatcher {
    shared: Arc<Shared>,
    work_ready: Arc<Notify>,
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
        Self {
            shared: Arc::new(Shared {
                db,
                settings,
                handlers,
                outbox_ready,
                cancels: Mutex::new(HashMap::new()),
                clock,
            }),
            work_ready,
        }
    }

    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let shared = self.shared;
        let mut running = JoinSet::new();
        let mut failures = 0u32;
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some(_) = running.join_next(), if !running.is_empty() => {}
                () = self.work_ready.notified() => {}
                () = tokio::time::sleep(shared.settings.poll) => {}
            }
            if let Err(error) = shared.signal_cancellations().await {
                tracing::warn!(%error, "cannot read cancellation requests");
            }
            let free = shared.settings.concurrency.saturating_sub(running.len());
            if free == 0 {
                continue;
            }
            match shared.claim(free).await {
                Ok(claimed) => {
                    failures = 0;
                    for (task, span) in claimed {
                        let shared = shared.clone();
                        running
                            .spawn(async move { shared.run_attempt(task).await }.instrument(span));
                    }
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(%error, failures, "claiming work failed");
                    tokio::time::sleep(taskflow_platform::backoff::step(
                        Duration::from_millis(100),
                        Duration::from_secs(5),
                        failures,
                    ))
                    .await;
                }
            }
        }
        shared.drain(running).await;
    }
}

impl Shared {
    /// Leases up to `free` due executions; each comes with the span its attempt runs in.
    async fn claim(&self, free: usize) -> Result<Vec<(Claimed, tracing::Span)>, DispatchError> {
        let mut conn = self.db.get().await?;
        let settings = &self.settings;
        let clock = &*self.clock;
        let claimed = conn
            .transaction::<_, DispatchError, _>(async |conn| {
                let grace = settings.lease_grace.as_millis() as i64;
                let claimed = store::claim(conn, &settings.instance, free as i64, grace).await?;
                let mut spanned = Vec::with_capacity(claimed.len());
                for task in claimed {
                    let span = attempt_span(&task);
                    store::start_attempt(conn, task.task_id, task.attempt, &settings.instance)
                        .await?;
                    store::enqueue(
                        conn,
                        &attempt_ref(&task, settings).started(clock, &settings.instance),
                    )
                    .instrument(span.clone())
                    .await?;
                    spanned.push((task, span));
                }
                Ok(spanned)
            })
            .await?;
        if !claimed.is_empty() {
            self.outbox_ready.notify_one();
            let mut tenants: Vec<Uuid> = claimed.iter().map(|(c, _)| c.tenant_id).collect();
            tenants.sort_unstable();
            tenants.dedup();
            if let Err(error) = store::note_turns(&mut conn, &tenants).await {
                tracing::debug!(%error, "tenant turns not noted");
            }
        }
        Ok(claimed)
    }

    async fn signal_cancellations(&self) -> Result<(), String> {
        if self.cancels.lock().map(|c| c.is_empty()).unwrap_or(true) {
            return Ok(());
        }
        let mut conn = self.db.get().await.map_err(|e| e.to_string())?;
        let flagged = store::cancel_flags(&mut conn, &self.settings.instance)
            .await
            .map_err(|e| e.to_string())?;
        if let Ok(cancels) = self.cancels.lock() {
            for task_id in flagged {
                if let Some(tx) = cancels.get(&task_id) {
                    let _ = tx.send(true);
                }
            }
        }
        Ok(())
    }

    async fn run_attempt(self: Arc<Self>, task: Claimed) {
        let (cancel_tx, mut cancel_rx) = watch::channel(false);
        if let Ok(mut cancels) = self.cancels.lock() {
            cancels.insert(task.task_id, cancel_tx);
        }
        let started = Instant::now();
        let result = if task.attempt > task.max_attempts {
            // The previous attempt's executor vanished and no attempts are left.
            AttemptResult::Failed(HandlerError::Permanent(format!(
                "attempts exhausted: attempt {} was lost with its executor",
                task.attempt - 1
            )))
        } else {
            let timeout = Duration::from_millis(task.timeout_ms.max(1) as u64);
            let progress = AttemptProgress {
                shared: self.clone(),
                attempt: attempt_ref(&task, &self.settings),
            };
            tokio::select! {
                outcome = tokio::time::timeout(timeout, self.handlers.run(&task.task_type, &task.payload, &progress)) => match outcome {
                    Ok(Ok(result)) => AttemptResult::Succeeded(result),
                    Ok(Err(error)) => AttemptResult::Failed(error),
                    Err(_) => AttemptResult::TimedOut { after: timeout },
                },
                _ = cancel_rx.wait_for(|c| *c) => AttemptResult::Cancelled,
            }
        };
        if let Ok(mut cancels) = self.cancels.lock() {
            cancels.remove(&task.task_id);
        }
        let duration_ms = started.elapsed().as_millis() as i64;
        let mut pause = Duration::from_millis(50);
        // The outcome must be recorded (or found moot); a database hiccup is waited out.
        while let Err(error) = self.record(&task, result.clone(), duration_ms).await {
            tracing::warn!(task_id = %task.task_id, %error, "recording the outcome failed, retrying");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }

    async fn record(
        &self,
        task: &Claimed,
        result: AttemptResult,
        duration_ms: i64,
    ) -> Result<(), DispatchError> {
        let outcome = result.outcome();
        let delay = self.settings.backoff.delay(task.attempt, rand_unit());
        let next = decide(result, task.attempt, task.max_attempts, delay);
        let change = after_attempt(&next, self.clock.now());
        let retry_at = match change.due {
            Due::At(at) => Some(at),
            Due::Unchanged | Due::Now => None,
        };
        let error = match &next {
            Next::Retry { error, .. } | Next::Fail { error, .. } => Some(error.clone()),
            _ => None,
        };
        let event =
            attempt_ref(task, &self.settings).ending(&*self.clock, &next, duration_ms, retry_at);
        let mut conn = self.db.get().await?;
        let owner = &self.settings.instance;
        let recorded = conn
            .transaction::<_, DispatchError, _>(async |conn| {
                if !store::finish(conn, task.task_id, task.attempt, owner, change).await? {
                    return Ok(false);
                }
                store::end_attempt(conn, task.task_id, task.attempt, outcome, error.as_deref())
                    .await?;
                store::enqueue(conn, &event).await?;
                if let Next::Fail { error, .. } = &next {
                    let reason =
                        format!("failed for good after {} attempt(s): {error}", task.attempt);
                    let topic = &self.settings.dead_letter_topic;
                    store::dead_letter_task(conn, task.task_id, topic, &reason).await?;
                }
                Ok(true)
            })
            .await?;
        if recorded {
            tracing::info!(task_id = %task.task_id, attempt = task.attempt, outcome = outcome.as_str(), next_state = change.to.as_str(), "attempt ended");
            self.outbox_ready.notify_one();
        } else {
            tracing::warn!(task_id = %task.task_id, attempt = task.attempt, "lease lost before the outcome was recorded; outcome dropped");
        }
        Ok(())
    }

    /// Lets running attempts finish within the drain time, then gives back the rest.
    async fn drain(&self, mut running: JoinSet<()>) {
        let deadline = tokio::time::Instant::now() + self.settings.drain;
        while !running.is_empty() {
            if tokio::time::timeout_at(deadline, running.join_next())
                .await
                .is_err()
            {
                running.abort_all();
                break;
            }
        }
        match self.db.get().await {
            Ok(mut conn) => match conn
                .transaction::<_, DispatchError, _>(async |conn| {
                    Ok(store::release_owned(conn, &self.settings.instance).await?)
                })
                .await
            {
                Ok(released) if released > 0 => {
                    tracing::info!(released, "released unfinished attempts")
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "releasing attempts failed; their leases will expire")
                }
            },
            Err(error) => {
                tracing::warn!(%error, "releasing attempts failed; their leases will expire")
            }
        }
    }
}

/// The span of one attempt: a child of the task's trace (the context its TaskCreated was
/// ingested in), so the attempt's events and log lines belong to the submitting request's trace.
fn attempt_span(task: &Claimed) -> tracing::Span {
    let span = tracing::info_span!(
        "attempt",
        task_id = %task.task_id,
        task_type = %task.task_type,
        attempt = task.attempt,
        correlation_id = %task.correlation_id,
        trace_id = tracing::field::Empty,
    );
    taskflow_platform::headers::adopt_trace_context(
        &span,
        task.traceparent.as_deref(),
        task.tracestate.as_deref(),
    );
    if let Some(trace_id) = task
        .traceparent
        .as_deref()
        .and_then(taskflow_platform::headers::trace_id_of)
    {
        span.record("trace_id", trace_id);
    }
    span
}

fn attempt_ref(task: &Claimed, settings: &DispatchSettings) -> AttemptRef {
    AttemptRef {
        task_id: task.task_id,
        tenant_id: task.tenant_id,
        correlation_id: task.correlation_id.clone(),
        cause: task.created_event_id,
        attempt: task.attempt,
        producer: settings.producer.clone(),
    }
}

/// A uniform draw in [0, 1) for jitter; fresh uuid bits are random enough for spreading retries.
fn rand_unit() -> f64 {
    (Uuid::new_v4().as_u128() >> 75) as f64 / (1u64 << 53) as f64
}

struct AttemptProgress {
    shared: Arc<Shared>,
    attempt: AttemptRef,
}

impl Progress for AttemptProgress {
    fn report(
        &self,
        percent: i32,
        message: String,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let event = self.attempt.progress(&*self.shared.clock, percent, message);
            let owner = &self.shared.settings.instance;
            let Ok(mut conn) = self.shared.db.get().await else {
                return;
            };
            let attempt = &self.attempt;
            let result = conn
                .transaction::<_, DispatchError, _>(async |conn| {
                    if store::holds(conn, attempt.task_id, attempt.attempt, owner).await? {
                        store::enqueue(conn, &event).await?;
                    }
                    Ok(())
                })
                .await;
            match result {
                Ok(()) => self.shared.outbox_ready.notify_one(),
                // Progress is advisory: a lost report is not worth failing the attempt for.
                Err(error) => tracing::debug!(%error, "progress report dropped"),
            }
        })
    }
}
