//! Leases due executions, runs them under their timeout, and records each outcome with a
//! guarded state change: only the instance that still holds the attempt's lease may end it, so
//! a stalled or partitioned instance that wakes up late records nothing.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel_async::AsyncConnection;
use futures::FutureExt;
use taskflow_platform::clock::SharedClock;
use taskflow_platform::db::DbPool;
use taskflow_platform::headers::{TraceContext, current_trace_in};
use taskflow_platform::listen::Listener;
use taskflow_platform::metrics;
use taskflow_schemas::Event;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::{JoinError, JoinSet};
use tracing::Instrument;
use uuid::Uuid;

use crate::domain::AttemptOutcome;
use crate::domain::HandlerError;
use crate::domain::backoff::Backoff;
use crate::domain::execution::{Due, Move, after_attempt};
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
    /// Finished attempts on their way to the completer, which records many in one transaction.
    finished: mpsc::UnboundedSender<Finished>,
    /// Wakes this instance's dispatcher (new work, or a retry falling due).
    work_ready: Arc<Notify>,
}

/// Most outcomes recorded in one transaction.
const COMPLETE_BATCH: usize = 256;

/// An attempt's outcome, decided and waiting to be recorded.
struct Finished {
    task: Claimed,
    outcome: AttemptOutcome,
    change: Move,
    error: Option<String>,
    event: Event,
    /// Set when the task failed for good: why it is parked on the dead-letter topic.
    dead_letter: Option<String>,
    /// How long the attempt ran.
    ran: Duration,
    span: tracing::Span,
    /// Told once the outcome is durable (or found moot), so the slot frees only then.
    recorded: oneshot::Sender<()>,
}

pub struct Dispatcher {
    shared: Arc<Shared>,
    work_ready: Arc<Notify>,
    finished: mpsc::UnboundedReceiver<Finished>,
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
        let (finished_tx, finished) = mpsc::unbounded_channel();
        Self {
            shared: Arc::new(Shared {
                db,
                settings,
                handlers,
                outbox_ready,
                cancels: Mutex::new(HashMap::new()),
                clock,
                finished: finished_tx,
                work_ready: work_ready.clone(),
            }),
            work_ready,
            finished,
        }
    }

    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let shared = self.shared;
        let completer = tokio::spawn(complete(shared.clone(), self.finished));
        let mut running = JoinSet::new();
        let mut failures = 0u32;
        let mut cancellations_checked = tokio::time::Instant::now();
        // Below this many free slots a busy instance lingers before claiming (CLAIM_LINGER).
        let claim_at_least = (shared.settings.concurrency / 4).max(1);
        let mut work_listener = Listener::new(shared.db.clone(), WORK_CHANNEL);
        let mut wait = Duration::ZERO;
        // When queued work next falls due, as the last claim that found nothing learnt it. Kept
        // across other wake-ups (an attempt's end, new work), which reset only the poll: losing
        // it would start that work up to a poll interval late.
        let mut due: Option<tokio::time::Instant> = None;
        // Whether the last claim left due work behind (it filled every free slot). While it
        // did not, an attempt's end alone is no reason to look again: only new work, a due
        // time or the poll can make something claimable.
        let mut more_ready = true;
        // Set when this dispatcher (re)starts listening: work committed while it did not listen
        // announced itself to nobody here, so it claims once without being woken.
        let mut unheard = false;
        loop {
            // Listening costs this database a transaction per notifying commit (every outbox
            // insert too, whatever the channel). While attempts run and the last claim left work
            // ready, each attempt's end claims again anyway: no need to listen then.
            if more_ready && !running.is_empty() {
                work_listener.pause().await;
            } else if !work_listener.is_listening() && work_listener.ensure().await {
                unheard = true;
                wait = Duration::ZERO;
            }
            let look_at = tokio::time::Instant::now() + wait;
            let look_at = due.map_or(look_at, |due| due.min(look_at));
            let woke = tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some(joined) = running.join_next(), if !running.is_empty() => {
                    attempt_ended(joined);
                    Woke::SlotFreed
                }
                () = self.work_ready.notified() => Woke::NewWork,
                _ = work_listener.notified() => Woke::NewWork,
                () = tokio::time::sleep_until(look_at) => Woke::Timer,
            };
            wait = shared.settings.poll;
            // Whatever woke us, work that has fallen due is claimed now.
            let fell_due = due.is_some_and(|due| due <= tokio::time::Instant::now());
            if fell_due {
                due = None;
            }
            // Every attempt that ended meanwhile frees its slot now, not one wake-up each; a
            // wake-up for new work that is already pending is taken now too (the local notice
            // and the database's NOTIFY announce the same rows).
            while let Some(joined) = running.try_join_next() {
                attempt_ended(joined);
            }
            let new_work = woke == Woke::NewWork
                || unheard
                || self.work_ready.notified().now_or_never().is_some()
                || work_listener.take_pending();
            if !running.is_empty() && cancellations_checked.elapsed() >= CANCEL_CHECK_EVERY {
                cancellations_checked = tokio::time::Instant::now();
                if let Err(error) = shared.signal_cancellations().await {
                    tracing::warn!(%error, "cannot read cancellation requests");
                }
            }
            let free = shared.settings.concurrency.saturating_sub(running.len());
            if free == 0 {
                continue;
            }
            if woke == Woke::SlotFreed && !new_work && !more_ready && !fell_due {
                continue;
            }
            // A busy instance with few free slots lingers briefly for more to free up, so that
            // under load its claims stay large; when nothing more frees up soon it claims anyway.
            if woke != Woke::Timer && free < claim_at_least && !running.is_empty() {
                wait = CLAIM_LINGER;
                continue;
            }
            unheard = false;
            match shared.claim(free).await {
                Ok((claimed, next_due)) => {
                    failures = 0;
                    more_ready = claimed.len() == free;
                    if let Some(next_due) = next_due {
                        // Nothing more is ready: sleep until something falls due (a retry, a
                        // delayed task, an expired lease), new work notifies us, an attempt
                        // ends, or the poll.
                        due = Some(
                            tokio::time::Instant::now() + next_due.max(Duration::from_millis(5)),
                        );
                    }
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
        completer.abort();
    }
}

/// An attempt's task ended. A handler's panic never gets here (the attempt catches it and
/// fails); one that does is a bug of the runner itself, and its attempt is not recorded: said
/// loudly here, it is taken over when its lease expires.
fn attempt_ended(joined: Result<(), JoinError>) {
    if let Err(error) = joined
        && error.is_panic()
    {
        tracing::error!(%error, "attempt runner panicked; its attempt is taken over when the lease expires");
    }
}

/// Records finished attempts as they come, many per transaction: whatever queued up while the
/// previous transaction ran goes into the next one.
async fn complete(shared: Arc<Shared>, mut finished: mpsc::UnboundedReceiver<Finished>) {
    let mut busy = false;
    while let Some(first) = finished.recv().await {
        // Under load (the last batch was large) wait a moment for more outcomes, so that a
        // transaction carries many; a lone outcome is recorded at once.
        if busy {
            tokio::time::sleep(BUSY_LINGER).await;
        }
        let mut batch = vec![first];
        while batch.len() < COMPLETE_BATCH {
            match finished.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        busy = batch.len() >= BUSY_BATCH;
        shared.record_all(batch).await;
    }
}

/// A batch of outcomes at least this large means load is high.
const BUSY_BATCH: usize = 16;
const BUSY_LINGER: Duration = Duration::from_millis(5);

/// Why the dispatcher woke up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Woke {
    SlotFreed,
    NewWork,
    Timer,
}

/// How long a nearly full instance waits for more free slots before claiming a few.
const CLAIM_LINGER: Duration = Duration::from_millis(5);

/// The channel new executions are announced on (migration `work_wake`).
const WORK_CHANNEL: &str = "taskflow_work";

/// How often running attempts' cancellation flags are read (a cancel reaches a running task
/// within about this long).
const CANCEL_CHECK_EVERY: Duration = Duration::from_millis(100);

impl Shared {
    /// Leases up to `free` due executions; each comes with the span its attempt runs in. One
    /// transaction of five statements however many it claims; when it finds nothing, the same
    /// transaction says how long until something falls due (`None`: unknown, poll).
    async fn claim(
        &self,
        free: usize,
    ) -> Result<(Vec<(Claimed, tracing::Span)>, Option<Duration>), DispatchError> {
        let mut conn = self.db.get().await?;
        let settings = &self.settings;
        let clock = &*self.clock;
        let (claimed, next_due) = conn
            .transaction::<_, DispatchError, _>(async |conn| {
                let grace = settings.lease_grace.as_millis() as i64;
                let claimed = store::claim(conn, &settings.instance, free as i64, grace).await?;
                if claimed.is_empty() {
                    let next_due = store::until_next_due(conn).await?;
                    return Ok((Vec::new(), Some(next_due.unwrap_or(settings.poll))));
                }
                let started: Vec<(Uuid, i32)> =
                    claimed.iter().map(|t| (t.task_id, t.attempt)).collect();
                store::start_attempts(conn, &started, &settings.instance).await?;
                let mut spanned = Vec::with_capacity(claimed.len());
                let mut events = Vec::with_capacity(claimed.len());
                for task in claimed {
                    let span = attempt_span(&task);
                    let event = attempt_ref(&task, settings).started(clock, &settings.instance);
                    events.push((event, current_trace_in(&span)));
                    spanned.push((task, span));
                }
                store::enqueue_all(conn, &events).await?;
                // In the same transaction (one commit per claim, not two): another instance
                // noting the same tenant waits for this commit, which comes right away.
                let mut tenants: Vec<Uuid> = spanned.iter().map(|(c, _)| c.tenant_id).collect();
                tenants.sort_unstable();
                tenants.dedup();
                store::note_turns(conn, &tenants).await?;
                Ok((spanned, None))
            })
            .await?;
        if !claimed.is_empty() {
            self.outbox_ready.notify_one();
        }
        Ok((claimed, next_due))
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
            // A panic is caught here, where the attempt is known, and ends it as failed with the
            // panic's message (see `HandlerError::panicked` for why for good). Unwind safety:
            // the handler's future is dropped after a panic, and the handlers share nothing a
            // half-run could leave broken (the HTTP client drops a connection whose request was
            // abandoned).
            let handler =
                AssertUnwindSafe(self.handlers.run(&task.task_type, &task.payload, &progress))
                    .catch_unwind();
            tokio::select! {
                outcome = tokio::time::timeout(timeout, handler) => match outcome {
                    Ok(Ok(Ok(result))) => AttemptResult::Succeeded(result),
                    Ok(Ok(Err(error))) => AttemptResult::Failed(error),
                    Ok(Err(panic)) => {
                        let error = HandlerError::panicked(&*panic);
                        tracing::error!(task_id = %task.task_id, attempt = task.attempt, %error, "handler panicked; the attempt fails for good");
                        AttemptResult::Failed(error)
                    }
                    Err(_) => AttemptResult::TimedOut { after: timeout },
                },
                _ = cancel_rx.wait_for(|c| *c) => AttemptResult::Cancelled,
            }
        };
        if let Ok(mut cancels) = self.cancels.lock() {
            cancels.remove(&task.task_id);
        }
        let duration_ms = started.elapsed().as_millis() as i64;
        let (recorded, done) = oneshot::channel();
        let finished = self.decide(task, result, duration_ms, recorded);
        if self.finished.send(finished).is_ok() {
            // Err only when the completer is gone (shutdown): the attempt is then released.
            let _ = done.await;
        }
    }

    /// What becomes of the task after this attempt, and the event announcing it.
    fn decide(
        &self,
        task: Claimed,
        result: AttemptResult,
        duration_ms: i64,
        recorded: oneshot::Sender<()>,
    ) -> Finished {
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
        let dead_letter = match &next {
            Next::Fail { error, .. } => Some(format!(
                "failed for good after {} attempt(s): {error}",
                task.attempt
            )),
            _ => None,
        };
        let event =
            attempt_ref(&task, &self.settings).ending(&*self.clock, &next, duration_ms, retry_at);
        Finished {
            task,
            outcome,
            change,
            error,
            event,
            dead_letter,
            ran: Duration::from_millis(duration_ms.max(0) as u64),
            span: tracing::Span::current(),
            recorded,
        }
    }

    /// Records `batch` in one transaction; if that fails, each on its own (so one bad outcome
    /// cannot hold the others back), waiting out database outages. Every outcome ends recorded
    /// or found moot (its lease was lost), and its attempt is then told.
    async fn record_all(&self, batch: Vec<Finished>) {
        let mut pending = vec![batch];
        let mut failures = 0u32;
        while let Some(batch) = pending.pop() {
            match self.write_outcomes(&batch).await {
                Ok(recorded) => {
                    failures = 0;
                    self.outbox_ready.notify_one();
                    self.wake_when_due(&batch, &recorded);
                    for (finished, recorded) in batch.into_iter().zip(recorded) {
                        let task = &finished.task;
                        let _enter = finished.span.enter();
                        if recorded {
                            metrics::TASK_ATTEMPTS
                                .with_label_values(&[
                                    task.task_type.as_str(),
                                    finished.outcome.as_str(),
                                ])
                                .inc();
                            metrics::TASK_RUN
                                .with_label_values(&[task.task_type.as_str()])
                                .observe(finished.ran.as_secs_f64());
                            tracing::debug!(task_id = %task.task_id, attempt = task.attempt, outcome = finished.outcome.as_str(), next_state = finished.change.to.as_str(), "attempt ended");
                        } else {
                            tracing::warn!(task_id = %task.task_id, attempt = task.attempt, "lease lost before the outcome was recorded; outcome dropped");
                        }
                        drop(_enter);
                        let _ = finished.recorded.send(());
                    }
                }
                Err(error) if batch.len() > 1 => {
                    tracing::warn!(%error, outcomes = batch.len(), "recording outcomes together failed; recording them one by one");
                    pending.extend(batch.into_iter().map(|f| vec![f]));
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let task_id = batch[0].task.task_id;
                    tracing::warn!(%task_id, %error, failures, "recording the outcome failed, retrying");
                    tokio::time::sleep(taskflow_platform::backoff::step(
                        Duration::from_millis(50),
                        Duration::from_secs(5),
                        failures,
                    ))
                    .await;
                    pending.push(batch);
                }
            }
        }
    }

    /// Retries recorded here fall due later: wake this dispatcher then (others find them by
    /// their own next-due time or poll).
    fn wake_when_due(&self, batch: &[Finished], recorded: &[bool]) {
        let Some(first_due) = batch
            .iter()
            .zip(recorded)
            .filter(|(_, recorded)| **recorded)
            .filter_map(|(f, _)| match f.change.due {
                Due::At(at) => Some(at),
                Due::Now | Due::Unchanged => None,
            })
            .min()
        else {
            return;
        };
        crate::wake::wake_at(&self.work_ready, first_due, &*self.clock);
    }

    /// One transaction: the outcomes as guarded state changes (only the lease holder's count)
    /// and their attempts' ends (two statements for the batch), their events (one), and a dead
    /// letter for each task that failed for good.
    async fn write_outcomes(&self, batch: &[Finished]) -> Result<Vec<bool>, DispatchError> {
        let mut conn = self.db.get().await?;
        let owner = &self.settings.instance;
        let topic = &self.settings.dead_letter_topic;
        conn.transaction::<_, DispatchError, _>(async |conn| {
            let outcomes: Vec<store::Outcome<'_>> = batch
                .iter()
                .map(|f| store::Outcome {
                    task_id: f.task.task_id,
                    attempt: f.task.attempt,
                    change: f.change,
                    outcome: f.outcome,
                    error: f.error.as_deref(),
                })
                .collect();
            let finished = store::finish_all(conn, owner, &outcomes).await?;
            let mut recorded = Vec::with_capacity(batch.len());
            let mut events: Vec<(Event, TraceContext)> = Vec::with_capacity(batch.len());
            for f in batch {
                if !finished.contains(&f.task.task_id) {
                    recorded.push(false);
                    continue;
                }
                events.push((f.event.clone(), current_trace_in(&f.span)));
                if let Some(reason) = &f.dead_letter {
                    store::dead_letter_task(conn, f.task.task_id, topic, reason)
                        .instrument(f.span.clone())
                        .await?;
                }
                recorded.push(true);
            }
            store::enqueue_all(conn, &events).await?;
            Ok(recorded)
        })
        .await
    }

    /// Lets running attempts finish within the drain time, then gives back the rest.
    async fn drain(&self, mut running: JoinSet<()>) {
        let deadline = tokio::time::Instant::now() + self.settings.drain;
        while !running.is_empty() {
            match tokio::time::timeout_at(deadline, running.join_next()).await {
                Ok(Some(joined)) => attempt_ended(joined),
                Ok(None) => {}
                Err(_) => {
                    running.abort_all();
                    break;
                }
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

#[cfg(test)]
#[path = "dispatch_tests.rs"]
mod tests;
