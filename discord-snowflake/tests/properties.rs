//! Property tests: round trips, ordering, bucket walks, uniqueness across threads.

use std::collections::HashSet;
use std::sync::Arc;

use discord_snowflake::{DISCORD_EPOCH_MS, Generator, Snowflake, TimeBuckets};
use proptest::prelude::*;

const MAX_MS: u64 = DISCORD_EPOCH_MS + (1 << 42) - 1;

proptest! {
    #[test]
    fn parts_round_trip(ms in DISCORD_EPOCH_MS..=MAX_MS, worker in 0u8..32, process in 0u8..32, inc in 0u16..4096) {
        let id = Snowflake::from_parts(ms, worker, process, inc).unwrap();
        prop_assert_eq!(id.timestamp_ms(), ms);
        prop_assert_eq!(id.worker_id(), worker);
        prop_assert_eq!(id.process_id(), process);
        prop_assert_eq!(id.increment(), inc);
    }

    #[test]
    fn text_and_json_round_trip(raw in any::<u64>()) {
        let id = Snowflake::new(raw);
        prop_assert_eq!(id.to_string().parse::<Snowflake>().unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        prop_assert_eq!(&json, &format!("\"{raw}\""));
        prop_assert_eq!(serde_json::from_str::<Snowflake>(&json).unwrap(), id);
        prop_assert_eq!(serde_json::from_str::<Snowflake>(&raw.to_string()).unwrap(), id);
    }

    #[test]
    fn order_follows_time(a in DISCORD_EPOCH_MS..=MAX_MS, b in DISCORD_EPOCH_MS..=MAX_MS,
                          pa in any::<(u8, u8, u16)>(), pb in any::<(u8, u8, u16)>()) {
        let x = Snowflake::from_parts(a, pa.0 % 32, pa.1 % 32, pa.2 % 4096).unwrap();
        let y = Snowflake::from_parts(b, pb.0 % 32, pb.1 % 32, pb.2 % 4096).unwrap();
        if a < b {
            prop_assert!(x < y);
        }
        // from_timestamp_ms is a lower bound for every ID of that millisecond.
        prop_assert!(Snowflake::from_timestamp_ms(a).unwrap() <= x);
        prop_assert!(Snowflake::from_timestamp_ms(a + 1).map(|bound| x < bound).unwrap_or(true));
    }

    #[test]
    fn bucket_walk_covers_exactly_the_buckets_between(width in TimeBuckets::MIN_WIDTH_MS..(30 * 86_400_000u64),
                                                      a in DISCORD_EPOCH_MS..=MAX_MS, span in 0u64..(200 * 86_400_000u64)) {
        let buckets = TimeBuckets::new(width).unwrap();
        let b = (a + span).min(MAX_MS);
        let (old, new) = (Snowflake::from_timestamp_ms(a).unwrap(), Snowflake::from_timestamp_ms(b).unwrap());
        let walk: Vec<u32> = buckets.between(old, new).take(10_000).collect();
        prop_assume!(walk.len() < 10_000);
        prop_assert_eq!(walk.first().copied(), Some(buckets.bucket_of(new)));
        prop_assert_eq!(walk.last().copied(), Some(buckets.bucket_of(old)));
        prop_assert!(walk.windows(2).all(|w| w[0] == w[1] + 1));
        for &bucket in &walk {
            prop_assert!(buckets.first_id(bucket) <= buckets.last_id(bucket));
            prop_assert_eq!(buckets.bucket_of(buckets.first_id(bucket)), bucket);
            prop_assert_eq!(buckets.bucket_of(buckets.last_id(bucket)), bucket);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn ids_are_unique_and_increasing_per_thread_under_contention(threads in 2usize..12, per_thread in 500usize..5_000) {
        let generator = Arc::new(Generator::new(7, 9).unwrap());
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let g = Arc::clone(&generator);
                std::thread::spawn(move || (0..per_thread).map(|_| g.next_id()).collect::<Vec<_>>())
            })
            .collect();
        let mut all = HashSet::new();
        for handle in handles {
            let ids = handle.join().unwrap();
            prop_assert!(ids.windows(2).all(|w| w[0] < w[1]));
            for id in ids {
                prop_assert_eq!((id.worker_id(), id.process_id()), (7, 9));
                prop_assert!(all.insert(id), "duplicate {}", id);
            }
        }
        prop_assert_eq!(all.len(), threads * per_thread);
    }
}
