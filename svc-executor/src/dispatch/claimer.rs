//! The claimer: this instance's loop. It waits for a reason to look for work (new work
//! announced, a due time reached, a slot freed, the poll), leases as many due executions as it
//! has free slots, and starts an attempt for each (`attempt`). Expired leases are claimed like
//! due work (`rescuer`); the cancel flags of running attempts are read from here (`cancels`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use diesel_async::AsyncConnection;
use futures::FutureExt;
use taskflow_platform::clock::SharedClock;
use taskflow_platform::db::DbPool;
use taskflow_platform::headers::current_trace_in;
use taskflow_platform::listen::Listener;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tracing::Instrument;
use uuid::Uuid;

use super::attempt::{self, Runner};
use super::cancels::Cancels;
use super::{DispatchSettings, rescuer};
use crate::store::{self, Claimed};

pub(super) struct Claimer {
    pub(super) db: DbPool,
    pub(super) settings: Arc<DispatchSettings>,
    /// Stamps the TaskStarted events (due work and leases are judged by the database's clock).
    pub(super) clock: SharedClock,
    pub(super) outbox_ready: Arc<Notify>,
    /// Wakes this claimer: new work ingested, or a retry or delayed task falling due.
    pub(super) work_ready: Arc<Notify>,
    pub(super) cancels: Arc<Cancels>,
    pub(super) runner: Arc<Runner>,
}

impl Claimer {
    /// Claims and starts work until `shutdown`; returns the attempts still running then, for
    /// the drain.
    pub(super) async fn run(self, shutdown: impl Future<Output = ()>) -> JoinSet<()> {
        tokio::pin!(shutdown);
        let mut running = JoinSet::new();
        let mut failures = 0u32;
        let mut cancellations_checked = tokio::time::Instant::now();
        // Below this many free slots a busy instance lingers before claiming (CLAIM_LINGER).
        let claim_at_least = (self.settings.concurrency / 4).max(1);
        let mut work_listener = Listener::new(self.db.clone(), WORK_CHANNEL);
        let mut wait = Duration::ZERO;
        // When queued work next falls due, as the last claim that found nothing learnt it. Kept
        // across other wake-ups (an attempt's end, new work), which reset only the poll: losing
        // it would start that work up to a poll interval late.
        let mut due: Option<tokio::time::Instant> = None;
        // Whether the last claim left due work behind (it filled every free slot). While it
        // did not, an attempt's end alone is no reason to look again: only new work, a due
        // time or the poll can make something claimable.
        let mut more_ready = true;
        // Set when this claimer (re)starts listening: work committed while it did not listen
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
                    attempt::ended(joined);
                    Woke::SlotFreed
                }
                () = self.work_ready.notified() => Woke::NewWork,
                _ = work_listener.notified() => Woke::NewWork,
                () = tokio::time::sleep_until(look_at) => Woke::Timer,
            };
            wait = self.settings.poll;
            // Whatever woke us, work that has fallen due is claimed now.
            let fell_due = due.is_some_and(|due| due <= tokio::time::Instant::now());
            if fell_due {
                due = None;
            }
            // Every attempt that ended meanwhile frees its slot now, not one wake-up each; a
            // wake-up for new work that is already pending is taken now too (the local notice
            // and the database's NOTIFY announce the same rows).
            while let Some(joined) = running.try_join_next() {
                attempt::ended(joined);
            }
            let new_work = woke == Woke::NewWork
                || unheard
                || self.work_ready.notified().now_or_never().is_some()
                || work_listener.take_pending();
            if !running.is_empty() && cancellations_checked.elapsed() >= CANCEL_CHECK_EVERY {
                cancellations_checked = tokio::time::Instant::now();
                let owner = &self.settings.instance;
                if let Err(error) = self.cancels.signal_flagged(&self.db, owner).await {
                    tracing::warn!(%error, "cannot read cancellation requests");
                }
            }
            let free = self.settings.concurrency.saturating_sub(running.len());
            let look = Look {
                woke,
                new_work,
                more_ready,
                fell_due,
                free,
                running: running.len(),
            };
            match next_step(&look, claim_at_least) {
                Step::Wait => continue,
                Step::Linger => {
                    wait = CLAIM_LINGER;
                    continue;
                }
                Step::Claim => {}
            }
            unheard = false;
            match self.claim(free).await {
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
                        let runner = self.runner.clone();
                        running.spawn(async move { runner.run(task).await }.instrument(span));
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
        running
    }

    /// Leases up to `free` due executions; each comes with the span its attempt runs in. One
    /// transaction of four or five statements however many it claims; when it finds nothing,
    /// the same transaction says how long until something falls due (`None`: unknown, poll).
    async fn claim(
        &self,
        free: usize,
    ) -> Result<(Vec<(Claimed, tracing::Span)>, Option<Duration>), store::TxError> {
        let mut conn = self.db.get().await?;
        let settings = &self.settings;
        let clock = &*self.clock;
        let (claimed, next_due) = conn
            .transaction::<_, store::TxError, _>(async |conn| {
                let grace = settings.lease_grace.as_millis() as i64;
                let claimed = store::claim(conn, &settings.instance, free as i64, grace).await?;
                if claimed.is_empty() {
                    let next_due = store::until_next_due(conn).await?;
                    return Ok((Vec::new(), Some(next_due.unwrap_or(settings.poll))));
                }
                rescuer::end_lost_attempts(conn, &claimed).await?;
                let mut spanned = Vec::with_capacity(claimed.len());
                let mut events = Vec::with_capacity(claimed.len());
                for task in claimed {
                    let span = attempt::span(&task);
                    let event = attempt::attempt_ref(&task, &settings.producer)
                        .started(clock, &settings.instance);
                    events.push((event, current_trace_in(&span)));
                    spanned.push((task, span));
                }
                // In the same transaction (one commit per claim, not two).
                let mut tenants: Vec<Uuid> = spanned.iter().map(|(c, _)| c.tenant_id).collect();
                tenants.sort_unstable();
                tenants.dedup();
                store::note_turns(conn, &tenants).await?;
                // Last: after every row lock, so per key ids follow commit order.
                store::enqueue_all(conn, &events).await?;
                Ok((spanned, None))
            })
            .await?;
        if !claimed.is_empty() {
            self.outbox_ready.notify_one();
        }
        Ok((claimed, next_due))
    }
}

/// Why the claimer woke up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Woke {
    SlotFreed,
    NewWork,
    Timer,
}

/// What the claimer found after a wake-up.
#[derive(Debug, Clone, Copy)]
struct Look {
    woke: Woke,
    /// Work was announced, or may have been while the claimer was not listening.
    new_work: bool,
    /// The last claim filled every free slot, so it may have left due work behind.
    more_ready: bool,
    /// A due time the claimer was waiting for has passed.
    fell_due: bool,
    /// Free slots.
    free: usize,
    /// Attempts running.
    running: usize,
}

/// What the claimer does after a wake-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Nothing to claim, or no slot to claim it into: wait for the next wake-up.
    Wait,
    /// Wait briefly (`CLAIM_LINGER`) for more slots to free up, then claim anyway.
    Linger,
    Claim,
}

/// Whether to claim now. An attempt's end alone is no reason to look again while the last claim
/// left nothing ready: only new work, a due time or the poll can make something claimable. A
/// busy instance with few free slots lingers briefly for more to free up, so that under load its
/// claims stay large; when nothing more frees up soon, the timer claims anyway.
fn next_step(look: &Look, claim_at_least: usize) -> Step {
    if look.free == 0 {
        return Step::Wait;
    }
    if look.woke == Woke::SlotFreed && !look.new_work && !look.more_ready && !look.fell_due {
        return Step::Wait;
    }
    if look.woke != Woke::Timer && look.free < claim_at_least && look.running > 0 {
        return Step::Linger;
    }
    Step::Claim
}

/// How long a nearly full instance waits for more free slots before claiming a few.
const CLAIM_LINGER: Duration = Duration::from_millis(5);

/// The channel new executions are announced on (migration `work_wake`).
const WORK_CHANNEL: &str = "taskflow_work";

/// How often running attempts' cancellation flags are read (a cancel reaches a running task
/// within about this long).
const CANCEL_CHECK_EVERY: Duration = Duration::from_millis(100);

#[cfg(test)]
mod tests {
    use super::*;

    /// Woken by `woke` with nothing else to say, 2 of 8 slots free.
    fn look(woke: Woke) -> Look {
        Look {
            woke,
            new_work: false,
            more_ready: false,
            fell_due: false,
            free: 2,
            running: 6,
        }
    }

    #[test]
    fn a_freed_slot_alone_claims_only_when_work_may_be_waiting() {
        assert_eq!(next_step(&look(Woke::SlotFreed), 1), Step::Wait);
        for waiting in [
            Look {
                new_work: true,
                ..look(Woke::SlotFreed)
            },
            Look {
                more_ready: true,
                ..look(Woke::SlotFreed)
            },
            Look {
                fell_due: true,
                ..look(Woke::SlotFreed)
            },
        ] {
            assert_eq!(next_step(&waiting, 1), Step::Claim, "{waiting:?}");
        }
    }

    #[test]
    fn a_busy_instance_lingers_for_more_slots_unless_the_timer_woke_it() {
        assert_eq!(next_step(&look(Woke::NewWork), 3), Step::Linger);
        assert_eq!(next_step(&look(Woke::Timer), 3), Step::Claim);
        let idle = Look {
            running: 0,
            ..look(Woke::NewWork)
        };
        assert_eq!(
            next_step(&idle, 3),
            Step::Claim,
            "an idle one never lingers"
        );
        assert_eq!(
            next_step(&look(Woke::NewWork), 2),
            Step::Claim,
            "enough free"
        );
    }

    #[test]
    fn without_a_free_slot_nothing_is_claimed() {
        for woke in [Woke::SlotFreed, Woke::NewWork, Woke::Timer] {
            let full = Look {
                free: 0,
                new_work: true,
                ..look(woke)
            };
            assert_eq!(next_step(&full, 1), Step::Wait);
        }
    }
}
