//! Identify spacing across the shards of one process: Discord lets each
//! bucket (`shard_id % max_concurrency`) identify once per interval (5 s),
//! for first connections and for every new session after one was lost.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Hands out identify slots, one per bucket per interval.
#[derive(Debug)]
pub struct IdentifyQueue {
    max_concurrency: u32,
    interval: Duration,
    next: Mutex<HashMap<u32, Instant>>,
}

impl IdentifyQueue {
    /// A queue for `max_concurrency` buckets (from `GET /gateway/bot`'s
    /// `session_start_limit`), each identifying once per `interval`.
    pub fn new(max_concurrency: u32, interval: Duration) -> IdentifyQueue {
        IdentifyQueue {
            max_concurrency: max_concurrency.max(1),
            interval,
            next: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for shard `shard_id`'s turn to identify.
    pub async fn wait(&self, shard_id: u32) {
        let at = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let slot = next
                .entry(shard_id % self.max_concurrency)
                .or_insert_with(Instant::now);
            let at = (*slot).max(Instant::now());
            *slot = at + self.interval;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_bucket_identifies_once_per_interval_and_buckets_run_side_by_side() {
        let queue = Arc::new(IdentifyQueue::new(2, Duration::from_secs(5)));
        let start = Instant::now();
        let mut tasks = Vec::new();
        // Shards 0, 2, 4 share bucket 0; shards 1, 3 bucket 1.
        for shard in 0..5u32 {
            let queue = queue.clone();
            tasks.push(tokio::spawn(async move {
                queue.wait(shard).await;
                (shard, start.elapsed().as_secs())
            }));
        }
        let mut got = Vec::new();
        for t in tasks {
            got.push(t.await.unwrap());
        }
        got.sort();
        // Each bucket's slots are 5 s apart; the order within a bucket is
        // whoever asked first, so compare the sets of times.
        let mut bucket0: Vec<u64> = got
            .iter()
            .filter(|(s, _)| s % 2 == 0)
            .map(|(_, t)| *t)
            .collect();
        let mut bucket1: Vec<u64> = got
            .iter()
            .filter(|(s, _)| s % 2 == 1)
            .map(|(_, t)| *t)
            .collect();
        bucket0.sort();
        bucket1.sort();
        assert_eq!(bucket0, vec![0, 5, 10]);
        assert_eq!(bucket1, vec![0, 5]);
        // A later re-identify (after a lost session) waits for its slot too.
        queue.wait(0).await;
        assert_eq!(start.elapsed().as_secs(), 15);
    }
}
