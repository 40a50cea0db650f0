//! What to do about a due schedule, decided without I/O: which nominal instants to trigger,
//! which to record as skipped or missed, and where the schedule stands afterwards.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::catchup::{Due, classify};
use super::jitter::jitter;
use super::options::{Overlap, Window};
use super::overlap::{Decision, PreviousRun, decide};
use super::spec::Spec;

/// A schedule as the firer sees it.
pub struct Schedule<'a> {
    pub id: Uuid,
    pub spec: &'a Spec,
    pub window: &'a Window,
    pub anchor: DateTime<Utc>,
    pub jitter_max: Duration,
    pub overlap: Overlap,
    pub catchup_window: Duration,
    /// The next instant not decided yet.
    pub next_nominal: DateTime<Utc>,
    /// The task of the latest triggered instant, and whether it ended.
    pub previous: Option<(Uuid, bool)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Trigger {
        nominal: DateTime<Utc>,
        task_id: Uuid,
        /// Overlap `cancel_other`: the still active run svc-tasks is asked to cancel first.
        cancel: Option<Uuid>,
    },
    Skip {
        nominal: DateTime<Utc>,
        reason: &'static str,
        detail: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// The first instant still undecided (None: the schedule never fires again).
    pub next_nominal: Option<DateTime<Utc>>,
    /// When to look at it: its nominal time plus jitter.
    pub next_fire_at: Option<DateTime<Utc>>,
    /// Set when `next_nominal` waits for this run to end (overlap buffer).
    pub waiting_for: Option<Uuid>,
}

/// The task an instant becomes: the same id whichever instance decides, however often, so
/// svc-tasks creates it once.
pub fn task_id(schedule_id: Uuid, nominal: DateTime<Utc>) -> Uuid {
    Uuid::new_v5(&schedule_id, &nominal.timestamp_millis().to_be_bytes())
}

impl Schedule<'_> {
    /// The first instant of the timetable after `after`, unless past the window's end.
    pub fn next_in_window(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let next = self.spec.next_after(after, self.anchor)?;
        match self.window.end_at {
            Some(end) if next > end => None,
            _ => Some(next),
        }
    }

    fn fire_at(&self, nominal: DateTime<Utc>, next: Option<DateTime<Utc>>) -> DateTime<Utc> {
        nominal + jitter(self.id, nominal, next, self.jitter_max)
    }

    /// Where the schedule stands once every instant before `nominal` is decided: that instant
    /// and when it runs, as [`Schedule::plan`] leaves them (None: it never fires again).
    pub fn standing_at(
        &self,
        nominal: Option<DateTime<Utc>>,
    ) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        match nominal {
            Some(n) => (Some(n), Some(self.fire_at(n, self.next_in_window(n)))),
            None => (None, None),
        }
    }

    /// Decides every instant due by `now`, at most `max_steps` of them.
    pub fn plan(&self, now: DateTime<Utc>, max_steps: usize) -> Plan {
        let mut steps = Vec::new();
        let mut previous = self.previous;
        let mut nominal = Some(self.next_nominal);
        while let Some(current) = nominal {
            let next = self.next_in_window(current);
            let fire_at = self.fire_at(current, next);
            if fire_at > now || steps.len() >= max_steps {
                return Plan {
                    steps,
                    next_nominal: Some(current),
                    next_fire_at: Some(fire_at),
                    waiting_for: None,
                };
            }
            if classify(current, now, self.catchup_window) == Due::Missed {
                steps.push(Step::Skip {
                    nominal: current,
                    reason: "missed",
                    detail: format!(
                        "older than the catch-up window ({} s) when the scheduler got to it",
                        self.catchup_window.num_seconds()
                    ),
                });
                nominal = next;
                continue;
            }
            let state = match previous {
                None => PreviousRun::None,
                Some((_, true)) => PreviousRun::Ended,
                Some((_, false)) => PreviousRun::Active,
            };
            // Buffer one keeps the latest waiting instant: an earlier one is skipped when a
            // later one is due already.
            let later_due = next.is_some_and(|n| self.fire_at(n, self.next_in_window(n)) <= now);
            match decide(self.overlap, state, usize::from(later_due)) {
                decision @ (Decision::Fire | Decision::CancelPreviousThenFire) => {
                    let task_id = task_id(self.id, current);
                    let cancel = match decision {
                        Decision::CancelPreviousThenFire => previous.map(|p| p.0),
                        _ => None,
                    };
                    steps.push(Step::Trigger {
                        nominal: current,
                        task_id,
                        cancel,
                    });
                    previous = Some((task_id, false));
                }
                Decision::Skip => steps.push(Step::Skip {
                    nominal: current,
                    reason: "overlap",
                    detail: format!(
                        "task {} of an earlier instant is still running (overlap policy {})",
                        previous.map(|p| p.0.to_string()).unwrap_or_default(),
                        self.overlap.as_str()
                    ),
                }),
                Decision::Buffer => {
                    return Plan {
                        steps,
                        next_nominal: Some(current),
                        next_fire_at: Some(fire_at),
                        waiting_for: previous.map(|p| p.0),
                    };
                }
            }
            nominal = next;
        }
        Plan {
            steps,
            next_nominal: None,
            next_fire_at: None,
            waiting_for: None,
        }
    }
}
