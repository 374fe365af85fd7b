//! Cost of one snowflake: on the real clock (held to the format's ceiling of
//! 4,096 IDs per millisecond) and on a clock that never makes the generator
//! wait (the generator's own overhead).

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use discord_snowflake::{Clock, Generator};

/// Advances one millisecond on every read: the generator never waits.
struct RacingClock(AtomicU64);

impl Clock for RacingClock {
    fn now_ms(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}

fn generate(c: &mut Criterion) {
    let mut group = c.benchmark_group("snowflake");
    group.throughput(Throughput::Elements(1));

    let real = Generator::new(1, 1).unwrap();
    group.bench_function("next_id/system_clock", |b| {
        b.iter(|| black_box(real.next_id()))
    });

    let racing =
        Generator::with_clock(1, 1, RacingClock(AtomicU64::new(1_700_000_000_000))).unwrap();
    group.bench_function("next_id/no_wait_clock", |b| {
        b.iter(|| black_box(racing.next_id()))
    });

    // Two threads on one generator (this machine has two cores): per ID cost
    // of the pair together, still held to 4,096 per millisecond.
    let shared = Arc::new(Generator::new(2, 2).unwrap());
    group.bench_function("next_id/system_clock_2_threads", |b| {
        b.iter_custom(|iters| {
            let other = Arc::clone(&shared);
            let half = iters / 2;
            let start = std::time::Instant::now();
            let t = std::thread::spawn(move || {
                for _ in 0..half {
                    black_box(other.next_id());
                }
            });
            for _ in 0..(iters - half) {
                black_box(shared.next_id());
            }
            t.join().unwrap();
            start.elapsed()
        })
    });
    group.finish();
}

criterion_group!(benches, generate);
criterion_main!(benches);
