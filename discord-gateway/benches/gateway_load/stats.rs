//! What the tool reads off processes (`/proc`), and its latency histogram.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

pub(crate) fn proc_status(pid: u32, key: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Write system calls (`write`, `writev`, ...) a process has made.
pub(crate) fn write_syscalls(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("syscw: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// A process's CPU time (user + system) in clock ticks.
pub(crate) fn cpu_ticks(pid: u32) -> u64 {
    let (user, system) = user_system_ticks(pid);
    user + system
}

/// A process's CPU time in user space and in the kernel, in clock ticks.
/// The server's user time per delivery is its own code's cost, which the
/// kernel's share (two thirds and more, the same for any server) hides in
/// the total.
pub(crate) fn user_system_ticks(pid: u32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    (f[11].parse().unwrap(), f[12].parse().unwrap())
}

/// Each thread of a process, by thread ID: nanoseconds on a CPU and
/// nanoseconds waiting on a run queue, from `/proc/<pid>/task/*/schedstat`
/// (empty where the kernel does not keep it).
pub(crate) fn thread_sched(pid: u32) -> std::collections::HashMap<u64, (u64, u64)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Default::default();
    };
    tasks
        .flatten()
        .filter_map(|task| {
            let tid = task.file_name().to_str()?.parse().ok()?;
            let s = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
            let mut f = s.split_whitespace().map(|v| v.parse::<u64>().ok());
            Some((tid, (f.next()??, f.next()??)))
        })
        .collect()
}

/// The thread that ran most between two [`thread_sched`] readings: its
/// seconds on a CPU and waiting on a run queue (a thread that wants a CPU
/// and does not have one, here because the other threads of the two
/// processes hold both).
pub(crate) fn busiest_thread(
    before: &std::collections::HashMap<u64, (u64, u64)>,
    after: &std::collections::HashMap<u64, (u64, u64)>,
) -> Option<(f64, f64)> {
    after
        .iter()
        .map(|(tid, &(run, wait))| {
            let (run0, wait0) = before.get(tid).copied().unwrap_or((0, 0));
            (run.saturating_sub(run0), wait.saturating_sub(wait0))
        })
        .max_by_key(|&(run, _)| run)
        .map(|(run, wait)| (run as f64 / 1e9, wait as f64 / 1e9))
}

/// Latencies in 10 µs buckets up to 2 s. Each thread records into a
/// stripe of its own (buckets and count), so the tool's threads never
/// write the same cache line: with one set of buckets that both threads
/// raised (similar latencies land in the same buckets), recording was a
/// visible share of the tool's CPU, which it takes from the server.
pub(crate) struct Histogram {
    stripes: Vec<Stripe>,
}

/// Stripes per histogram; threads beyond this share them (correctly,
/// only more slowly).
const STRIPES: usize = 4;
const BUCKETS: usize = 200_001;

struct Stripe {
    buckets: Box<[AtomicU64]>,
    count: Count,
}

#[repr(align(128))]
#[derive(Default)]
struct Count(AtomicU64);

/// This thread's stripe.
fn stripe_of_thread() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    STRIPE.with(|s| *s)
}

impl Histogram {
    pub(crate) fn new() -> Self {
        Histogram {
            stripes: (0..STRIPES)
                .map(|_| Stripe {
                    buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
                    count: Count::default(),
                })
                .collect(),
        }
    }
    pub(crate) fn record(&self, nanos: u128) {
        let i = ((nanos / 10_000) as usize).min(BUCKETS - 1);
        let stripe = &self.stripes[stripe_of_thread()];
        stripe.buckets[i].fetch_add(1, Ordering::Relaxed);
        stripe.count.0.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn count(&self) -> u64 {
        self.stripes
            .iter()
            .map(|s| s.count.0.load(Ordering::Relaxed))
            .sum()
    }
    pub(crate) fn percentile(&self, p: f64) -> Duration {
        percentile_of(self.snapshot().into_iter(), p)
    }
    /// The counts recorded so far, bucket by bucket, for
    /// [`percentile_between`].
    pub(crate) fn snapshot(&self) -> Vec<u64> {
        let mut sum = vec![0u64; BUCKETS];
        for stripe in &self.stripes {
            for (total, b) in sum.iter_mut().zip(stripe.buckets.iter()) {
                *total += b.load(Ordering::Relaxed);
            }
        }
        sum
    }
}

/// The `p` percentile of what was recorded between two snapshots.
pub(crate) fn percentile_between(earlier: &[u64], later: &[u64], p: f64) -> Duration {
    percentile_of(later.iter().zip(earlier).map(|(l, e)| l - e), p)
}

/// The `p` percentile of bucket counts, to the bucket's upper bound
/// (`Duration::MAX` when nothing was counted).
fn percentile_of(counts: impl Iterator<Item = u64> + Clone, p: f64) -> Duration {
    let total: u64 = counts.clone().sum();
    if total == 0 {
        return Duration::MAX;
    }
    let target = (((total as f64) * p).ceil() as u64).max(1);
    let mut seen = 0;
    for (i, n) in counts.enumerate() {
        seen += n;
        if seen >= target {
            return Duration::from_micros(i as u64 * 10 + 10);
        }
    }
    Duration::MAX
}
