//! Where delivery latency goes inside the node, process-wide (feature
//! `fanout-timing`). The load tool reads it to tell the server's share of
//! delivery latency from its own: on one shared machine both add to
//! POST-to-receipt.
//!
//! Two histograms: how long each delivered event waited between the
//! node's fanout and its session's socket write, and how long each
//! session went between two writes of the fanout writers. An event waits
//! for its session's next write, so when the second varies in length the
//! first has a long tail.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Bucket width.
const STEP_MICROS: u64 = 100;
/// Buckets up to 2 s; the last one holds everything longer.
const BUCKETS: usize = 20_001;

/// Durations counted in buckets of [`STEP_MICROS`].
struct Histogram([AtomicU64; BUCKETS]);

impl Histogram {
    const fn new() -> Self {
        Histogram([const { AtomicU64::new(0) }; BUCKETS])
    }

    fn record(&self, d: Duration) {
        let i = usize::try_from(d.as_micros() / u128::from(STEP_MICROS))
            .unwrap_or(usize::MAX)
            .min(BUCKETS - 1);
        self.0[i].fetch_add(1, Ordering::Relaxed);
    }

    /// What was recorded since the last take, as percentiles; recording
    /// starts afresh.
    fn take(&self, percentiles: &[f64]) -> (u64, Vec<Duration>) {
        let counts: Vec<u64> = self
            .0
            .iter()
            .map(|b| b.swap(0, Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        let at = |p: f64| {
            let target = ((total as f64 * p).ceil() as u64).max(1);
            let mut seen = 0;
            for (i, n) in counts.iter().enumerate() {
                seen += n;
                if seen >= target {
                    return Duration::from_micros((i as u64 + 1) * STEP_MICROS);
                }
            }
            Duration::ZERO
        };
        (total, percentiles.iter().map(|&p| at(p)).collect())
    }
}

static WAITS: Histogram = Histogram::new();
static GAPS: Histogram = Histogram::new();

/// Records one delivery's wait.
pub(crate) fn record(wait: Duration) {
    WAITS.record(wait);
}

/// Records how long a session went between two writes of the writers.
pub(crate) fn record_gap(gap: Duration) {
    GAPS.record(gap);
}

/// The waits recorded since the last call, as percentiles (each in
/// `0.0..=1.0`), to the bucket's upper bound (100 µs), and how many there
/// were; recording starts afresh.
pub fn take_percentiles(percentiles: &[f64]) -> (u64, Vec<Duration>) {
    WAITS.take(percentiles)
}

/// [`take_percentiles`] for the time each session went between two
/// writes of the fanout writers (its first write is not counted).
pub fn take_gap_percentiles(percentiles: &[f64]) -> (u64, Vec<Duration>) {
    GAPS.take(percentiles)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_what_was_recorded_since_the_last_take() {
        let h = Histogram::new();
        for ms in 1..=100 {
            h.record(Duration::from_millis(ms));
        }
        h.record(Duration::from_secs(9));
        let (n, p) = h.take(&[0.5, 0.99, 1.0]);
        assert_eq!(n, 101);
        assert_eq!(
            p,
            [
                Duration::from_micros(51_100),
                Duration::from_micros(100_100),
                Duration::from_micros(BUCKETS as u64 * STEP_MICROS),
            ],
            "the longest lands in the last bucket"
        );
        assert_eq!(h.take(&[0.5]).0, 0, "taken: the next starts empty");
    }
}
