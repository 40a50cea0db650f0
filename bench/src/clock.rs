//! Wall-clock instants in microseconds since the Unix epoch: the unit the services' timestamps
//! are compared in (everything runs on one machine, so one clock).

use std::time::{SystemTime, UNIX_EPOCH};

/// `t` in µs since the epoch; 0 before it, `i64::MAX` past the year 294,000.
pub fn epoch_us(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// Now, in µs since the epoch.
pub fn now_us() -> i64 {
    epoch_us(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn microseconds_since_the_epoch() {
        let t = UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        assert_eq!(epoch_us(t), 1_700_000_000_123_456);
        assert_eq!(epoch_us(UNIX_EPOCH - Duration::from_secs(1)), 0);
    }
}
