//! The wait before the next try of something that keeps failing (a relay pass, a consumer's
//! batch, a claim): doubling from `initial`, never above `cap`.

use std::time::Duration;

/// Wait after the `failures`-th failure in a row (1 = the first): `initial · 2^(failures-1)`,
/// at most `cap`.
pub fn step(initial: Duration, cap: Duration, failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(31);
    initial.saturating_mul(1u32 << doublings).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_initial_up_to_the_cap() {
        let ms = Duration::from_millis;
        let waits: Vec<_> = (1..=6).map(|n| step(ms(100), ms(1000), n)).collect();
        assert_eq!(
            waits,
            [ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000)]
        );
        assert_eq!(step(ms(100), ms(1000), 0), ms(100));
        assert_eq!(
            step(ms(100), Duration::from_secs(10), u32::MAX),
            Duration::from_secs(10)
        );
    }
}
