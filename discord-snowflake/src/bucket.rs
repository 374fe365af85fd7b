//! Time buckets: the partition math for message history.
//!
//! Messages are stored per `(channel_id, bucket)` so that no partition grows
//! without bound. A bucket is the milliseconds since the Discord epoch divided
//! by the bucket width (5 days by default), which is the top bits of the ID;
//! the bucket of a message is therefore known from its ID alone.

use std::iter::FusedIterator;

use crate::snowflake::{MAX_EPOCH_MS, TIMESTAMP_SHIFT};
use crate::{Snowflake, SnowflakeError};

/// Bucket math for one bucket width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeBuckets {
    width_ms: u64,
}

impl Default for TimeBuckets {
    /// Five-day buckets, as in the seed design.
    fn default() -> Self {
        TimeBuckets {
            width_ms: Self::DEFAULT_WIDTH_MS,
        }
    }
}

impl TimeBuckets {
    /// Five days in milliseconds.
    pub const DEFAULT_WIDTH_MS: u64 = 5 * 24 * 60 * 60 * 1000;
    /// The narrowest bucket allowed: with it, every bucket number of the
    /// 42-bit timestamp range still fits in an `i32` (a CQL `int`).
    pub const MIN_WIDTH_MS: u64 = 2048;

    /// Buckets `width_ms` milliseconds wide; at least [`Self::MIN_WIDTH_MS`].
    pub fn new(width_ms: u64) -> Result<Self, SnowflakeError> {
        if width_ms < Self::MIN_WIDTH_MS {
            return Err(SnowflakeError::BucketWidth(width_ms));
        }
        Ok(TimeBuckets { width_ms })
    }

    /// The width of one bucket in milliseconds.
    pub const fn width_ms(&self) -> u64 {
        self.width_ms
    }

    /// The bucket an ID falls in. Always `<= i32::MAX`.
    pub const fn bucket_of(&self, id: Snowflake) -> u32 {
        (id.epoch_ms() / self.width_ms) as u32
    }

    /// The smallest ID in `bucket`.
    pub const fn first_id(&self, bucket: u32) -> Snowflake {
        let ms = bucket as u64 * self.width_ms;
        Snowflake::new(clamp_ms(ms) << TIMESTAMP_SHIFT)
    }

    /// The largest ID in `bucket`.
    pub const fn last_id(&self, bucket: u32) -> Snowflake {
        let end_ms = (bucket as u64 + 1) * self.width_ms - 1;
        Snowflake::new((clamp_ms(end_ms) << TIMESTAMP_SHIFT) | ((1 << TIMESTAMP_SHIFT) - 1))
    }

    /// Every bucket from the one holding the larger of `a` and `b` down to the
    /// one holding the smaller, newest first, each once: the walk a history
    /// query makes across partitions.
    pub fn between(&self, a: Snowflake, b: Snowflake) -> BucketIter {
        let (newest, oldest) = if a >= b { (a, b) } else { (b, a) };
        BucketIter {
            next: Some(self.bucket_of(newest)),
            last: self.bucket_of(oldest),
        }
    }
}

const fn clamp_ms(ms: u64) -> u64 {
    if ms > MAX_EPOCH_MS { MAX_EPOCH_MS } else { ms }
}

/// Bucket numbers from newest to oldest; see [`TimeBuckets::between`].
#[derive(Debug, Clone)]
pub struct BucketIter {
    next: Option<u32>,
    last: u32,
}

impl Iterator for BucketIter {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let current = self.next?;
        self.next = if current > self.last {
            Some(current - 1)
        } else {
            None
        };
        Some(current)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.next.map_or(0, |n| (n - self.last) as usize + 1);
        (n, Some(n))
    }
}

impl DoubleEndedIterator for BucketIter {
    fn next_back(&mut self) -> Option<u32> {
        let first = self.next?;
        let current = self.last;
        if current >= first {
            self.next = None;
        } else {
            self.last += 1;
        }
        Some(current)
    }
}

impl ExactSizeIterator for BucketIter {}
impl FusedIterator for BucketIter {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DISCORD_EPOCH_MS;

    fn at(ms_since_epoch: u64) -> Snowflake {
        Snowflake::from_timestamp_ms(DISCORD_EPOCH_MS + ms_since_epoch).unwrap()
    }

    #[test]
    fn default_is_five_days_as_in_the_seed_design() {
        let b = TimeBuckets::default();
        assert_eq!(b.width_ms(), 432_000_000);
        assert_eq!(b.bucket_of(at(0)), 0);
        assert_eq!(b.bucket_of(at(432_000_000 - 1)), 0);
        assert_eq!(b.bucket_of(at(432_000_000)), 1);
    }

    #[test]
    fn too_narrow_widths_are_rejected() {
        assert_eq!(TimeBuckets::new(0), Err(SnowflakeError::BucketWidth(0)));
        assert_eq!(
            TimeBuckets::new(2047),
            Err(SnowflakeError::BucketWidth(2047))
        );
        let narrowest = TimeBuckets::new(TimeBuckets::MIN_WIDTH_MS).unwrap();
        assert!(narrowest.bucket_of(Snowflake::MAX) <= i32::MAX as u32);
    }

    #[test]
    fn first_and_last_ids_bound_the_bucket() {
        let b = TimeBuckets::new(10_000).unwrap();
        assert_eq!(b.first_id(3), at(30_000));
        assert_eq!(b.bucket_of(b.last_id(3)), 3);
        assert_eq!(b.bucket_of(Snowflake::new(b.last_id(3).get() + 1)), 4);
        assert_eq!(b.bucket_of(Snowflake::new(b.first_id(3).get() - 1)), 2);
    }

    #[test]
    fn walks_newest_to_oldest_in_either_argument_order() {
        let b = TimeBuckets::new(10_000).unwrap();
        let (old, new) = (at(5_000), at(42_000));
        let walk: Vec<u32> = b.between(new, old).collect();
        assert_eq!(walk, vec![4, 3, 2, 1, 0]);
        assert_eq!(b.between(old, new).collect::<Vec<_>>(), walk);
        assert_eq!(b.between(old, new).len(), 5);
        let back: Vec<u32> = b.between(old, new).rev().collect();
        assert_eq!(back, vec![0, 1, 2, 3, 4]);
        assert_eq!(b.between(old, old).collect::<Vec<_>>(), vec![0]);
    }

    #[test]
    fn walk_from_both_ends_meets_once() {
        let b = TimeBuckets::new(10_000).unwrap();
        let mut it = b.between(at(0), at(35_000));
        assert_eq!(it.next(), Some(3));
        assert_eq!(it.next_back(), Some(0));
        assert_eq!(it.next_back(), Some(1));
        assert_eq!(it.next(), Some(2));
        assert_eq!(it.next(), None);
        assert_eq!(it.next_back(), None);
    }
}
