//! Jitter: spreads the fires of many schedules that share a nominal time (`0 * * * *`).

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The delay added to the occurrence at `nominal`, in whole microseconds (PostgreSQL's
/// timestamp precision, so a stored fire time reads back unchanged).
///
/// Deterministic: derived from a hash of `(schedule_id, nominal)`, so every scheduler instance
/// computes the same delay. Uniform in `[0, max)`, and capped below half the gap to
/// `next_nominal`, so a delayed fire always happens before the next occurrence is due.
pub fn jitter(
    schedule_id: Uuid,
    nominal: DateTime<Utc>,
    next_nominal: Option<DateTime<Utc>>,
    max: Duration,
) -> Duration {
    let mut bound = max;
    if let Some(next) = next_nominal {
        bound = bound.min((next - nominal) / 2);
    }
    let Some(bound_micros) = bound.num_microseconds().filter(|micros| *micros > 0) else {
        return Duration::zero();
    };
    let mut hasher = Sha256::new();
    hasher.update(schedule_id.as_bytes());
    hasher.update(nominal.timestamp().to_be_bytes());
    hasher.update(nominal.timestamp_subsec_nanos().to_be_bytes());
    let digest = hasher.finalize();
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    // Multiply-shift maps the 64-bit hash onto [0, bound) without modulo bias.
    let scaled = (u128::from(u64::from_be_bytes(head)) * bound_micros as u128) >> 64;
    Duration::microseconds(i64::try_from(scaled).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::test_time::utc;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn stays_in_zero_to_max() {
        let nominal = utc("2026-11-27T10:00:00Z");
        let max = Duration::seconds(30);
        for n in 0..2_000 {
            let delay = jitter(id(n), nominal, None, max);
            assert!(delay >= Duration::zero() && delay < max, "{delay}");
        }
    }

    #[test]
    fn is_the_same_on_every_call_and_spreads_schedules() {
        let nominal = utc("2026-11-27T10:00:00Z");
        let max = Duration::seconds(60);
        let first = jitter(id(7), nominal, None, max);
        assert_eq!(jitter(id(7), nominal, None, max), first);
        let delays: std::collections::BTreeSet<_> = (0..100)
            .map(|n| jitter(id(n), nominal, None, max))
            .collect();
        assert!(delays.len() > 90, "only {} distinct delays", delays.len());
        // Spread over the range, not bunched at one end.
        assert!(delays.iter().any(|d| *d < Duration::seconds(10)));
        assert!(delays.iter().any(|d| *d > Duration::seconds(50)));
        // A different occurrence of the same schedule gets its own delay.
        let later = utc("2026-11-27T11:00:00Z");
        assert!(
            (0..10).any(|n| jitter(id(n), later, None, max) != jitter(id(n), nominal, None, max))
        );
    }

    #[test]
    fn stays_below_half_the_gap_to_the_next_occurrence() {
        let nominal = utc("2026-11-27T10:00:00Z");
        let next = Some(utc("2026-11-27T10:00:10Z"));
        let max = Duration::hours(1);
        let delays: Vec<_> = (0..2_000)
            .map(|n| jitter(id(n), nominal, next, max))
            .collect();
        assert!(delays.iter().all(|d| *d < Duration::seconds(5)));
        assert!(delays.iter().any(|d| *d > Duration::seconds(4)));
    }

    #[test]
    fn zero_max_or_no_gap_means_no_delay() {
        let nominal = utc("2026-11-27T10:00:00Z");
        assert_eq!(
            jitter(id(1), nominal, None, Duration::zero()),
            Duration::zero()
        );
        assert_eq!(
            jitter(id(1), nominal, Some(nominal), Duration::seconds(5)),
            Duration::zero()
        );
    }

    #[test]
    fn is_whole_microseconds() {
        let nominal = utc("2026-11-27T10:00:00Z");
        for n in 0..100 {
            let delay = jitter(id(n), nominal, None, Duration::seconds(1));
            assert_eq!(delay.subsec_nanos() % 1_000, 0);
        }
    }
}
