//! Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And
//! Jitter"): the wait before retry n is uniform in [0, min(cap, base * 2^(n-1))], which spreads
//! retries of tasks that failed together.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    /// The wait after failed attempt `attempt` (1-based); `unit` is a random draw in [0, 1).
    pub fn delay(&self, attempt: i32, unit: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).clamp(0, 30) as u32;
        let ceiling = self
            .base
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.cap);
        ceiling.mul_f64(unit.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Backoff = Backoff {
        base: Duration::from_millis(100),
        cap: Duration::from_secs(2),
    };

    #[test]
    fn the_ceiling_doubles_per_attempt_up_to_the_cap() {
        let top = |attempt| B.delay(attempt, 1.0);
        assert_eq!(top(1), Duration::from_millis(100));
        assert_eq!(top(2), Duration::from_millis(200));
        assert_eq!(top(4), Duration::from_millis(800));
        assert_eq!(top(6), Duration::from_secs(2));
        assert_eq!(
            top(500),
            Duration::from_secs(2),
            "no overflow on absurd attempts"
        );
    }

    #[test]
    fn the_jitter_spans_zero_to_the_ceiling() {
        assert_eq!(B.delay(3, 0.0), Duration::ZERO);
        assert_eq!(B.delay(3, 0.5), Duration::from_millis(200));
        assert_eq!(
            B.delay(3, 7.0),
            Duration::from_millis(400),
            "out-of-range draws are clamped"
        );
    }
}
