//! Latency histograms (HdrHistogram, values in µs) and the ways the reports print them: each
//! format is parsed or read by someone (bench/bench.sh keeps the table rows, bench-peers-report
//! reads the JSON), so each keeps its own shape.

use std::time::Duration;

use anyhow::Context;
use hdrhistogram::Histogram;
use serde_json::json;

/// 1 µs to 1 h, 3 significant digits.
pub fn histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).context("histogram bounds")
}

/// Records `us` microseconds; a negative or zero latency (clocks a few µs apart) counts as 1 µs.
pub fn record_us(h: &mut Histogram<u64>, us: i64) {
    h.saturating_record(u64::try_from(us).unwrap_or(0).max(1));
}

/// Records the time from `from_us` to `to_us` (µs since the epoch).
pub fn record(h: &mut Histogram<u64>, from_us: i64, to_us: i64) {
    record_us(h, to_us - from_us);
}

/// Records a measured duration.
pub fn record_elapsed(h: &mut Histogram<u64>, elapsed: Duration) {
    h.saturating_record(
        u64::try_from(elapsed.as_micros())
            .unwrap_or(u64::MAX)
            .max(1),
    );
}

/// µs as ms.
pub fn us_as_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// The quantile in ms for a narrow table column: one decimal below 100 ms, none from there.
pub fn ms_column(h: &Histogram<u64>, q: f64) -> String {
    let v = us_as_ms(h.value_at_quantile(q));
    if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// The quantile in ms (µs resolution) for a JSON report; null without samples.
pub fn ms_json(h: &Histogram<u64>, q: f64) -> serde_json::Value {
    if h.is_empty() {
        serde_json::Value::Null
    } else {
        json!(us_as_ms(h.value_at_quantile(q)))
    }
}

/// The quantile in ms with one decimal (`q` of 1 is the maximum); `-` without samples.
pub fn ms_or_dash(h: &Histogram<u64>, q: f64) -> String {
    if h.is_empty() {
        return "-".into();
    }
    let v = if q >= 1.0 {
        h.max()
    } else {
        h.value_at_quantile(q)
    };
    format!("{:.1}", us_as_ms(v))
}

/// `p50 / p99 / max` in ms.
pub fn p50_p99_max(h: &Histogram<u64>) -> String {
    format!(
        "{} / {} / {}",
        ms_or_dash(h, 0.5),
        ms_or_dash(h, 0.99),
        ms_or_dash(h, 1.0)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(values_us: &[i64]) -> Histogram<u64> {
        let mut h = histogram().expect("valid bounds");
        for &v in values_us {
            record_us(&mut h, v);
        }
        h
    }

    #[test]
    fn latencies_below_one_microsecond_count_as_one() {
        let h = of(&[-5, 0]);
        assert_eq!((h.len(), h.min(), h.max()), (2, 1, 1));
        let mut h = histogram().expect("valid bounds");
        record(&mut h, 1_000, 2_500);
        record_elapsed(&mut h, Duration::ZERO);
        assert_eq!((h.min(), h.max()), (1, 1_500));
    }

    #[test]
    fn column_drops_the_decimal_from_100_ms() {
        assert_eq!(ms_column(&of(&[12_300]), 0.5), "12.3");
        assert_eq!(ms_column(&of(&[123_000]), 0.5), "123");
        assert_eq!(ms_column(&of(&[]), 0.5), "0.0");
    }

    #[test]
    fn json_is_null_without_samples() {
        assert_eq!(ms_json(&of(&[]), 0.5), serde_json::Value::Null);
        assert_eq!(ms_json(&of(&[2_000]), 0.5), json!(2.0));
    }

    #[test]
    fn triple_reads_median_p99_and_max() {
        assert_eq!(p50_p99_max(&of(&[])), "- / - / -");
        // Below 2,048 µs every value is kept exactly.
        let mut values = vec![100; 99];
        values.push(2_000);
        assert_eq!(p50_p99_max(&of(&values)), "0.1 / 0.1 / 2.0");
    }
}
