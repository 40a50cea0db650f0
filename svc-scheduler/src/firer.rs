//! The firer: every instance runs one. A pass locks the schedules due now (`FOR UPDATE SKIP
//! LOCKED`), decides their instants (`domain::firing`), and in the same transaction writes one
//! occurrence row per instant (primary key (schedule, instant)), the schedule's next instant,
//! and, as its last statement, the trigger and skip events into the outbox (`service::record`,
//! `service::outgoing`). Two instances never decide the same schedule at once (the row lock),
//! and a decided instant is never decided again (the schedule moved past it in that
//! transaction; the primary key would refuse it anyway). No node names, no leases.

use std::sync::Arc;
use std::time::Duration;

use chrono::{SubsecRound, Utc};
use diesel_async::AsyncConnection;
use taskflow_platform::clock::SharedClock;
use taskflow_platform::db::DbPool;
use taskflow_platform::listen::Listener;
use taskflow_platform::metrics;
use taskflow_platform::runtime::StopSignal;
use tokio::sync::Notify;
use tracing::Instrument;

use crate::domain::definition::{Definition, ScheduleModel};
use crate::domain::firing::{Schedule, Step};
use crate::domain::lifecycle::Lifecycle;
use crate::domain::occurrence::Origin;
use crate::service::outgoing::Outgoing;
use crate::service::record;
use crate::store::{self, Conn, ScheduleRow, StoreError};

/// Schedules decided per transaction.
const BATCH: i64 = 50;
/// Instants decided per schedule per pass (a long outage is worked off in several passes).
const MAX_STEPS: usize = 1_000;
/// How long a schedule whose decision failed waits before it is tried again.
const PUT_OFF: chrono::Duration = chrono::Duration::seconds(30);
/// With LISTEN working the firer sleeps until the next schedule is due, but at most this long.
const MAX_SLEEP: Duration = Duration::from_secs(1);

pub struct Firer {
    pub pool: DbPool,
    pub outbox_ready: Arc<Notify>,
    pub producer: String,
    pub clock: SharedClock,
}

impl Firer {
    pub async fn run(self, mut stop: StopSignal) {
        let mut listener = Listener::new(self.pool.clone(), "taskflow_schedules");
        let mut failures = 0u32;
        loop {
            listener.ensure().await;
            let decided = match self.pass().await {
                Ok(n) => {
                    failures = 0;
                    n
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(%error, failures, "firing pass failed; retrying");
                    0
                }
            };
            if failures == 0 && decided as i64 >= BATCH {
                continue;
            }
            // A failing pass is retried after a growing pause, not at once.
            let sleep = if failures > 0 {
                taskflow_platform::backoff::step(
                    Duration::from_millis(100),
                    Duration::from_secs(5),
                    failures,
                )
            } else {
                self.until_next_due().await
            };
            tokio::select! {
                () = &mut stop => return,
                _ = listener.notified() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
    }

    async fn until_next_due(&self) -> Duration {
        let Ok(mut conn) = self.pool.get().await else {
            return MAX_SLEEP;
        };
        match store::next_fire_at(&mut conn).await {
            Ok(Some(at)) => (at - self.clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(MAX_SLEEP),
            _ => MAX_SLEEP,
        }
    }

    /// One transaction over the schedules due now; returns how many it decided.
    pub async fn pass(&self) -> Result<usize, StoreError> {
        let mut conn = self.pool.get().await?;
        // To the millisecond, as the events it writes tell time (the rows rebuild from them).
        let now = self.clock.now().trunc_subsecs(3);
        let producer = self.producer.clone();
        let (decided, events, steps) = conn
            .transaction::<_, StoreError, _>(async move |conn| {
                let due = store::lock_due(conn, BATCH).await?;
                let mut out = Outgoing::new(&producer);
                let mut steps = Vec::new();
                for row in &due {
                    // Each schedule's decision starts the trace its triggered tasks continue.
                    let span = tracing::info_span!(
                        "fire",
                        otel.name = "fire schedule",
                        schedule_id = %row.id,
                        tenant_id = %row.tenant_id,
                    );
                    // In a savepoint: a schedule that cannot be decided (a bug, bad data) is
                    // put off and reported, and does not hold up the others in this pass.
                    // Its events join the pass's only if its savepoint commits.
                    let decided = conn
                        .transaction::<_, StoreError, _>(async |conn| {
                            decide(conn, row, now, &producer).await
                        })
                        .instrument(span.clone())
                        .await;
                    match decided {
                        Ok((decided_out, decided_steps)) => {
                            out.extend(decided_out);
                            steps.extend(decided_steps);
                        }
                        Err(error) => {
                            tracing::error!(parent: &span, schedule_id = %row.id, %error, "schedule could not be decided; trying it again in {} s", PUT_OFF.num_seconds());
                            store::put_off(conn, row.id, now + PUT_OFF).await?;
                        }
                    }
                }
                let events = out.len();
                out.append(conn).await?;
                Ok((due.len(), events, steps))
            })
            .await?;
        if events > 0 {
            self.outbox_ready.notify_one();
        }
        // Counted once committed.
        for step in &steps {
            let outcome = match step {
                Step::Trigger { nominal, .. } => {
                    let late = (now - *nominal).num_milliseconds().max(0) as f64 / 1_000.0;
                    metrics::SCHEDULE_FIRE_DELAY.observe(late);
                    "triggered"
                }
                Step::Skip { reason, .. } if *reason == "missed" => "missed",
                Step::Skip { .. } => "skipped",
            };
            metrics::SCHEDULE_OCCURRENCES
                .with_label_values(&[outcome])
                .inc();
        }
        Ok(decided)
    }
}

/// Decides `row`'s due instants; returns the events to announce and the steps taken.
async fn decide(
    conn: &mut Conn,
    row: &ScheduleRow,
    now: chrono::DateTime<Utc>,
    producer: &str,
) -> Result<(Outgoing, Vec<Step>), StoreError> {
    let mut out = Outgoing::new(producer);
    let model = match ScheduleModel::from_stored(&row.definition) {
        Ok(model) => model,
        Err(reason) => {
            // Stored by an older version in a shape this one cannot read: stop it visibly
            // rather than fail every pass.
            tracing::error!(schedule_id = %row.id, %reason, "schedule unreadable; pausing it");
            let mut paused = row.clone();
            paused.paused = true;
            paused.updated_at = now;
            if let Some(fields) = paused.definition.as_object_mut() {
                fields.insert("paused".into(), true.into());
                fields.insert(
                    "note".into(),
                    format!("paused by the scheduler: {reason}").into(),
                );
            }
            store::update_schedule(conn, &paused).await?;
            // Announced when its fields can be read at all (only its rules are broken).
            if let Ok(definition) = serde_json::from_value::<Definition>(paused.definition.clone())
            {
                let correlation = format!("schedule-{}", row.id);
                out.announce(Lifecycle::Paused, &paused, &definition, now, &correlation);
            }
            return Ok((out, Vec::new()));
        }
    };
    let Some(next_nominal) = row.next_nominal else {
        return Ok((out, Vec::new()));
    };
    let previous = store::last_run(conn, row.id).await?;
    let plan = Schedule {
        id: row.id,
        spec: &model.spec,
        window: &model.window,
        anchor: row.anchor,
        jitter_max: model.jitter,
        overlap: model.overlap,
        catchup_window: model.catchup_window,
        next_nominal,
        previous,
    }
    .plan(now, MAX_STEPS);
    record(
        conn,
        row,
        &model,
        &plan.steps,
        Origin::Timetable,
        now,
        &mut out,
    )
    .await?;
    let mut next = row.clone();
    next.next_nominal = plan.next_nominal;
    next.next_fire_at = plan.next_fire_at;
    next.waiting_for_task = plan.waiting_for;
    store::update_schedule(conn, &next).await?;
    Ok((out, plan.steps))
}
