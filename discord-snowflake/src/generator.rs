//! A lock-free snowflake generator for one (worker, process) pair.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::snowflake::{
    DISCORD_EPOCH_MS, MAX_EPOCH_MS, MAX_INCREMENT, PROCESS_SHIFT, check_five_bits,
};
use crate::{Snowflake, SnowflakeError};

/// A source of wall-clock time in Unix milliseconds.
///
/// [`SystemClock`] is the real one; tests and benchmarks supply their own to
/// step the clock backwards or to take it out of the measurement.
pub trait Clock: Send + Sync {
    /// The current time in milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
}

/// No ID has been issued yet.
const NONE: u64 = u64::MAX;
/// Spins before the waiting loop starts yielding the thread.
const SPINS_BEFORE_YIELD: u32 = 64;

/// Issues strictly increasing snowflakes for one (worker, process) pair.
///
/// Share one generator between threads (it is `Send + Sync` and lock-free);
/// two generators with the same pair would issue duplicate IDs.
///
/// - At most 4,096 IDs per millisecond. When a millisecond is spent the caller
///   waits until the clock reaches the next one: the format's ceiling is about
///   244 ns per ID and a faster caller is held to it.
/// - When the clock steps backwards, IDs keep coming from the last millisecond
///   issued; if that millisecond is spent while the clock is still behind, the
///   generator moves to the next millisecond at once instead of waiting for the
///   clock to catch up. IDs are never reused and callers never block for long.
#[derive(Debug)]
pub struct Generator<C: Clock = SystemClock> {
    /// `worker << 5 | process`, already shifted into place.
    node_bits: u64,
    /// The last issued `(epoch_ms << 12) | increment`, or [`NONE`].
    last: AtomicU64,
    clock: C,
}

impl Generator<SystemClock> {
    /// A generator on the system clock. `worker` and `process` must be 0-31.
    pub fn new(worker: u8, process: u8) -> Result<Self, SnowflakeError> {
        Self::with_clock(worker, process, SystemClock)
    }
}

impl<C: Clock> Generator<C> {
    /// A generator on a custom clock. `worker` and `process` must be 0-31.
    pub fn with_clock(worker: u8, process: u8, clock: C) -> Result<Self, SnowflakeError> {
        check_five_bits("worker", u64::from(worker))?;
        check_five_bits("process", u64::from(process))?;
        Ok(Generator {
            node_bits: ((u64::from(worker) << 5) | u64::from(process)) << PROCESS_SHIFT,
            last: AtomicU64::new(NONE),
            clock,
        })
    }

    /// The worker id this generator stamps into its IDs.
    pub fn worker_id(&self) -> u8 {
        ((self.node_bits >> (PROCESS_SHIFT + 5)) & 0x1f) as u8
    }

    /// The process id this generator stamps into its IDs.
    pub fn process_id(&self) -> u8 {
        ((self.node_bits >> PROCESS_SHIFT) & 0x1f) as u8
    }

    /// The next ID.
    ///
    /// # Panics
    ///
    /// Only when the clock is past the last millisecond a snowflake can hold
    /// (in the year 2154) and that millisecond is spent; [`Self::try_next_id`]
    /// returns that as an error instead.
    pub fn next_id(&self) -> Snowflake {
        match self.try_next_id() {
            Ok(id) => id,
            Err(e) => panic!("snowflake generator exhausted: {e}"),
        }
    }

    /// The next ID, or [`SnowflakeError::TimestampOverflow`] once the format's
    /// range of time (until the year 2154) is used up.
    pub fn try_next_id(&self) -> Result<Snowflake, SnowflakeError> {
        let mut spins = 0u32;
        let mut last = self.last.load(Ordering::Relaxed);
        loop {
            let now = self.epoch_now();
            let last_ms = last >> 12;
            let next = if last == NONE || now > last_ms {
                now << 12
            } else if last & MAX_INCREMENT < MAX_INCREMENT {
                last + 1
            } else if last_ms >= MAX_EPOCH_MS {
                return Err(SnowflakeError::TimestampOverflow(
                    DISCORD_EPOCH_MS + MAX_EPOCH_MS + 1,
                ));
            } else if now < last_ms {
                // The clock stepped backwards: move on without waiting for it.
                (last_ms + 1) << 12
            } else {
                // This millisecond is spent: wait for the clock to tick.
                if spins < SPINS_BEFORE_YIELD {
                    spins += 1;
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
                last = self.last.load(Ordering::Relaxed);
                continue;
            };
            match self
                .last
                .compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => {
                    let id = ((next >> 12) << 22) | self.node_bits | (next & MAX_INCREMENT);
                    return Ok(Snowflake::new(id));
                }
                Err(actual) => last = actual,
            }
        }
    }

    /// Milliseconds since the Discord epoch, clamped into the format's range.
    fn epoch_now(&self) -> u64 {
        self.clock
            .now_ms()
            .saturating_sub(DISCORD_EPOCH_MS)
            .min(MAX_EPOCH_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A clock the test moves by hand.
    #[derive(Debug, Default)]
    struct ManualClock(AtomicU64);

    impl ManualClock {
        fn at(ms: u64) -> Arc<Self> {
            Arc::new(ManualClock(AtomicU64::new(ms)))
        }
        fn set(&self, ms: u64) {
            self.0.store(ms, Ordering::SeqCst);
        }
    }

    impl Clock for Arc<ManualClock> {
        fn now_ms(&self) -> u64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    /// A clock that ticks one millisecond every `every` reads.
    #[derive(Debug)]
    struct TickingClock {
        reads: AtomicU64,
        start: u64,
        every: u64,
    }

    impl Clock for TickingClock {
        fn now_ms(&self) -> u64 {
            self.start + self.reads.fetch_add(1, Ordering::Relaxed) / self.every
        }
    }

    const T0: u64 = 1_700_000_000_000;

    #[test]
    fn stamps_the_clock_and_node_into_each_id() {
        let clock = ManualClock::at(T0);
        let g = Generator::with_clock(3, 17, clock.clone()).unwrap();
        let id = g.next_id();
        assert_eq!(id.timestamp_ms(), T0);
        assert_eq!((id.worker_id(), id.process_id()), (3, 17));
        assert_eq!((g.worker_id(), g.process_id()), (3, 17));
        assert_eq!(id.increment(), 0);
        assert_eq!(g.next_id().increment(), 1);
        clock.set(T0 + 5);
        let later = g.next_id();
        assert_eq!((later.timestamp_ms(), later.increment()), (T0 + 5, 0));
    }

    #[test]
    fn rejects_worker_and_process_out_of_range() {
        assert!(Generator::new(32, 0).is_err());
        assert!(Generator::new(0, 32).is_err());
        assert!(Generator::new(31, 31).is_ok());
    }

    #[test]
    fn a_backwards_clock_keeps_the_last_millisecond() {
        let clock = ManualClock::at(T0 + 100);
        let g = Generator::with_clock(0, 0, clock.clone()).unwrap();
        let before = g.next_id();
        clock.set(T0); // 100 ms backwards
        let after = g.next_id();
        assert!(after > before);
        assert_eq!(after.timestamp_ms(), T0 + 100);
        assert_eq!(after.increment(), 1);
    }

    #[test]
    fn a_backwards_clock_moves_on_when_the_millisecond_is_spent() {
        let clock = ManualClock::at(T0 + 100);
        let g = Generator::with_clock(0, 0, clock.clone()).unwrap();
        clock.set(T0 + 100);
        let mut prev = g.next_id();
        clock.set(T0);
        // Spend the rest of T0+100 and go well into the following milliseconds:
        // this must not block although the clock stays behind.
        for _ in 0..10_000 {
            let id = g.next_id();
            assert!(id > prev);
            prev = id;
        }
        assert_eq!(prev.timestamp_ms(), T0 + 102);
    }

    #[test]
    fn a_spent_millisecond_waits_for_the_next_tick() {
        // The clock ticks only after many reads, so a generator that did not
        // wait would overflow the increment or reuse an ID.
        let clock = TickingClock {
            reads: AtomicU64::new(0),
            start: T0,
            every: 10_000,
        };
        let g = Generator::with_clock(1, 1, clock).unwrap();
        let ids: Vec<Snowflake> = (0..4096 * 3).map(|_| g.next_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        for id in &ids {
            // Never ahead of the clock: every ID's millisecond was reached.
            assert!(id.timestamp_ms() <= g.clock.now_ms());
        }
        let per_ms = ids.iter().filter(|id| id.timestamp_ms() == T0).count();
        assert_eq!(per_ms, 4096);
    }

    #[test]
    fn clock_before_the_discord_epoch_is_clamped() {
        let g = Generator::with_clock(0, 0, ManualClock::at(5)).unwrap();
        assert_eq!(g.next_id().timestamp_ms(), DISCORD_EPOCH_MS);
    }

    #[test]
    fn end_of_range_is_an_error_not_a_duplicate() {
        let end = DISCORD_EPOCH_MS + MAX_EPOCH_MS;
        let g = Generator::with_clock(0, 0, ManualClock::at(end + 10)).unwrap();
        for _ in 0..4096 {
            assert!(g.try_next_id().is_ok());
        }
        assert!(matches!(
            g.try_next_id(),
            Err(SnowflakeError::TimestampOverflow(_))
        ));
    }
}
