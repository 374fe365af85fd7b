//! How long delivered events waited between the node's fanout and their
//! session's socket write, process-wide (feature `fanout-timing`). The load
//! tool reads it to tell the server's share of delivery latency from its
//! own: on one shared machine both add to POST-to-receipt.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Bucket width.
const STEP_MICROS: u64 = 100;
/// Buckets up to 2 s; the last one holds everything longer.
const BUCKETS: usize = 20_001;

static WAITS: [AtomicU64; BUCKETS] = [const { AtomicU64::new(0) }; BUCKETS];

/// Records one delivery's wait.
pub(crate) fn record(wait: Duration) {
    let i = usize::try_from(wait.as_micros() / u128::from(STEP_MICROS))
        .unwrap_or(usize::MAX)
        .min(BUCKETS - 1);
    WAITS[i].fetch_add(1, Ordering::Relaxed);
}

/// The waits recorded since the last call, as percentiles (each in
/// `0.0..=1.0`), to the bucket's upper bound (100 µs), and how many there
/// were; recording starts afresh.
pub fn take_percentiles(percentiles: &[f64]) -> (u64, Vec<Duration>) {
    let counts: Vec<u64> = WAITS.iter().map(|b| b.swap(0, Ordering::Relaxed)).collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_what_was_recorded_since_the_last_take() {
        take_percentiles(&[]);
        for ms in 1..=100 {
            record(Duration::from_millis(ms));
        }
        let (n, p) = take_percentiles(&[0.5, 0.99]);
        assert_eq!(n, 100);
        assert_eq!(
            p,
            [Duration::from_micros(50_100), Duration::from_micros(99_100)]
        );
        assert_eq!(
            take_percentiles(&[0.5]).0,
            0,
            "taken: the next starts empty"
        );
    }
}
