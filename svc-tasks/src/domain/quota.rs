//! Tenant quotas, decided from the tenant's counters (locked by the caller's transaction).

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// A tenant's limits; `None` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    pub max_active_tasks: Option<i32>,
    pub submissions_per_minute: Option<i32>,
}

/// Counters: tasks not yet ended, and submissions in the current one-minute window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub active_tasks: i32,
    pub window_start: DateTime<Utc>,
    pub window_count: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuotaRefusal {
    #[error(
        "tenant has {active} active tasks and may have at most {limit}; {requested} more would exceed it"
    )]
    ActiveTasks {
        limit: i32,
        active: i32,
        requested: i32,
    },
    #[error("tenant may submit {limit} tasks per minute and has submitted {used} this minute")]
    SubmissionRate {
        limit: i32,
        used: i32,
        retry_after_secs: u64,
    },
}

impl QuotaRefusal {
    /// Machine-readable reason, also the name of the limit.
    pub fn reason(&self) -> &'static str {
        match self {
            QuotaRefusal::ActiveTasks { .. } => "max_active_tasks",
            QuotaRefusal::SubmissionRate { .. } => "submissions_per_minute",
        }
    }

    /// When trying again may succeed. A slot of active tasks frees whenever some task ends,
    /// which cannot be predicted, so a short poll interval is suggested.
    pub fn retry_after_secs(&self) -> u64 {
        match self {
            QuotaRefusal::ActiveTasks { .. } => 5,
            QuotaRefusal::SubmissionRate {
                retry_after_secs, ..
            } => *retry_after_secs,
        }
    }
}

/// Admits `requested` new tasks at `now`, returning the counters to store, or refuses.
pub fn admit(
    limits: Limits,
    usage: Usage,
    now: DateTime<Utc>,
    requested: i32,
) -> Result<Usage, QuotaRefusal> {
    let window_start = now.duration_trunc(TimeDelta::minutes(1)).unwrap_or(now);
    let window_count = if usage.window_start == window_start {
        usage.window_count
    } else {
        0
    };
    if let Some(limit) = limits.max_active_tasks
        && usage.active_tasks + requested > limit
    {
        return Err(QuotaRefusal::ActiveTasks {
            limit,
            active: usage.active_tasks,
            requested,
        });
    }
    if let Some(limit) = limits.submissions_per_minute
        && window_count + requested > limit
    {
        let next_window = window_start + TimeDelta::minutes(1);
        let wait = (next_window - now).num_milliseconds().max(0) as u64;
        return Err(QuotaRefusal::SubmissionRate {
            limit,
            used: window_count,
            retry_after_secs: wait.div_ceil(1000).max(1),
        });
    }
    Ok(Usage {
        active_tasks: usage.active_tasks + requested,
        window_start,
        window_count: window_count + requested,
    })
}

/// Counts `created` tasks of the tenant's schedules, which no limit refuses: they take active
/// slots (so submissions see them, and the slot they free when they end was theirs), past
/// `max_active_tasks` if need be, and leave the submission window alone (it meters requests to
/// the API; a schedule's cadence was accepted with the schedule).
///
/// Why never refused: the trigger is the only chance of its instant. Refusing it would drop that
/// run for good (svc-scheduler has moved on), and waiting for a slot would hold up every
/// schedule on the same partition, other tenants' too. The limit keeps doing its job on the
/// API: while scheduled tasks fill it, submissions get 429.
pub fn count_scheduled(usage: Usage, created: i32) -> Usage {
    Usage {
        active_tasks: usage.active_tasks + created,
        ..usage
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, h, m, s)
            .single()
            .expect("valid")
    }

    fn usage(active: i32, window: DateTime<Utc>, count: i32) -> Usage {
        Usage {
            active_tasks: active,
            window_start: window,
            window_count: count,
        }
    }

    #[test]
    fn unlimited_tenants_are_counted_but_never_refused() {
        let next = admit(
            Limits::default(),
            usage(100, at(9, 0, 0), 7),
            at(9, 0, 30),
            3,
        )
        .expect("admitted");
        assert_eq!(next, usage(103, at(9, 0, 0), 10));
    }

    #[test]
    fn the_last_active_slot_is_given_once() {
        let limits = Limits {
            max_active_tasks: Some(2),
            submissions_per_minute: None,
        };
        let next = admit(limits, usage(1, at(9, 0, 0), 0), at(9, 0, 1), 1).expect("last slot");
        let refused = admit(limits, next, at(9, 0, 1), 1).expect_err("full");
        assert_eq!(refused.reason(), "max_active_tasks");
        assert!(
            admit(limits, usage(0, at(9, 0, 0), 0), at(9, 0, 1), 3).is_err(),
            "a batch counts whole"
        );
    }

    #[test]
    fn the_rate_window_resets_each_minute_and_says_when() {
        let limits = Limits {
            max_active_tasks: None,
            submissions_per_minute: Some(2),
        };
        let refused = admit(limits, usage(0, at(9, 0, 0), 2), at(9, 0, 45), 1).expect_err("rate");
        assert_eq!(refused.reason(), "submissions_per_minute");
        assert_eq!(refused.retry_after_secs(), 15);
        let next = admit(limits, usage(0, at(9, 0, 0), 2), at(9, 1, 5), 1).expect("new window");
        assert_eq!(next, usage(1, at(9, 1, 0), 1));
    }

    #[test]
    fn scheduled_tasks_take_slots_past_the_limit_and_leave_the_rate_window() {
        let limits = Limits {
            max_active_tasks: Some(1),
            submissions_per_minute: Some(1),
        };
        let full = usage(1, at(9, 0, 0), 1);
        let next = count_scheduled(full, 2);
        assert_eq!(next, usage(3, at(9, 0, 0), 1));
        assert!(
            admit(limits, next, at(9, 0, 10), 1).is_err(),
            "the API sees them"
        );
    }
}
