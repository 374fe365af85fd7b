//! History over time-bucket partitions: which partitions to read, in which
//! order, with which bound, so that a page has no gaps or duplicates however
//! messages are spread. Pure logic over a [`PartitionReader`], unit-tested
//! with an in-memory reader.

use async_trait::async_trait;
use discord_proto::Snowflake;
use discord_snowflake::TimeBuckets;

use crate::Result;
use crate::message::{HistoryAnchor, HistoryQuery, MessageRecord};

/// A read of one partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bound {
    /// The newest messages of the partition.
    Newest,
    /// Messages with IDs below this, newest first.
    Below(Snowflake),
    /// Messages with IDs above this, oldest first.
    Above(Snowflake),
}

/// Reads one `(channel, bucket)` partition.
#[async_trait]
pub(crate) trait PartitionReader: Sync {
    /// Up to `limit` messages of `bucket` within `bound`: newest first for
    /// `Newest` and `Below`, oldest first for `Above`.
    async fn read(&self, bucket: u32, bound: Bound, limit: usize) -> Result<Vec<MessageRecord>>;
}

/// Walks `buckets` (the channel's non-empty buckets, any order) newest
/// first from `upper` (exclusive), collecting up to `limit` messages.
async fn walk_down(
    reader: &dyn PartitionReader,
    tb: TimeBuckets,
    buckets: &[u32],
    upper: Option<Snowflake>,
    limit: usize,
) -> Result<Vec<MessageRecord>> {
    let start = upper.map(|id| tb.bucket_of(id));
    let mut desc: Vec<u32> = buckets
        .iter()
        .copied()
        .filter(|b| start.is_none_or(|s| *b <= s))
        .collect();
    desc.sort_unstable_by(|a, b| b.cmp(a));
    desc.dedup();
    let mut out = Vec::with_capacity(limit);
    for bucket in desc {
        if out.len() >= limit {
            break;
        }
        let bound = match upper {
            Some(id) if Some(bucket) == start => Bound::Below(id),
            _ => Bound::Newest,
        };
        let mut page = reader.read(bucket, bound, limit - out.len()).await?;
        // Defensive: keep the partition's order and bound even if a peer
        // does not (some test servers ignore clustering order).
        page.sort_unstable_by_key(|m| std::cmp::Reverse(m.id));
        page.retain(|m| upper.is_none_or(|u| m.id < u));
        page.truncate(limit - out.len());
        out.extend(page);
    }
    Ok(out)
}

/// Walks oldest first from `lower` (exclusive); returns oldest first.
async fn walk_up(
    reader: &dyn PartitionReader,
    tb: TimeBuckets,
    buckets: &[u32],
    lower: Snowflake,
    limit: usize,
) -> Result<Vec<MessageRecord>> {
    let start = tb.bucket_of(lower);
    let mut asc: Vec<u32> = buckets.iter().copied().filter(|b| *b >= start).collect();
    asc.sort_unstable();
    asc.dedup();
    let mut out = Vec::with_capacity(limit);
    for bucket in asc {
        if out.len() >= limit {
            break;
        }
        let mut page = reader
            .read(bucket, Bound::Above(lower), limit - out.len())
            .await?;
        page.sort_unstable_by_key(|m| m.id);
        page.retain(|m| m.id > lower);
        page.truncate(limit - out.len());
        out.extend(page);
    }
    Ok(out)
}

/// A page of history, newest first.
pub(crate) async fn history(
    reader: &dyn PartitionReader,
    tb: TimeBuckets,
    buckets: &[u32],
    query: HistoryQuery,
) -> Result<Vec<MessageRecord>> {
    query.validate()?;
    let limit = usize::from(query.limit);
    Ok(match query.anchor {
        HistoryAnchor::Latest => walk_down(reader, tb, buckets, None, limit).await?,
        HistoryAnchor::Before(id) => walk_down(reader, tb, buckets, Some(id), limit).await?,
        HistoryAnchor::After(id) => {
            let mut up = walk_up(reader, tb, buckets, id, limit).await?;
            up.reverse();
            up
        }
        HistoryAnchor::Around(id) => {
            let newer_n = query.around_newer();
            let mut out = if newer_n == 0 {
                Vec::new()
            } else {
                walk_up(reader, tb, buckets, id, newer_n).await?
            };
            out.reverse();
            // The anchor itself and older: everything below id + 1.
            let upper = Snowflake::new(id.get().saturating_add(1));
            out.extend(walk_down(reader, tb, buckets, Some(upper), limit - newer_n).await?);
            out
        }
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::*;

    /// Partitions in memory, counting reads.
    struct Fake {
        tb: TimeBuckets,
        parts: BTreeMap<u32, Vec<Snowflake>>,
        reads: Mutex<Vec<u32>>,
    }

    #[async_trait]
    impl PartitionReader for Fake {
        async fn read(
            &self,
            bucket: u32,
            bound: Bound,
            limit: usize,
        ) -> Result<Vec<MessageRecord>> {
            self.reads.lock().unwrap().push(bucket);
            let ids = self.parts.get(&bucket).cloned().unwrap_or_default();
            let mut ids: Vec<Snowflake> = match bound {
                Bound::Newest => ids.into_iter().rev().collect(),
                Bound::Below(x) => ids.into_iter().rev().filter(|i| *i < x).collect(),
                Bound::Above(x) => ids.into_iter().filter(|i| *i > x).collect(),
            };
            ids.truncate(limit);
            assert!(ids.iter().all(|i| self.tb.bucket_of(*i) == bucket));
            Ok(ids
                .into_iter()
                .map(|id| MessageRecord::new(id, Snowflake::new(1), Snowflake::new(2), ""))
                .collect())
        }
    }

    fn fake(ids: &[Snowflake], tb: TimeBuckets) -> Fake {
        let mut parts: BTreeMap<u32, Vec<Snowflake>> = BTreeMap::new();
        for id in ids {
            parts.entry(tb.bucket_of(*id)).or_default().push(*id);
        }
        for v in parts.values_mut() {
            v.sort();
        }
        Fake {
            tb,
            parts,
            reads: Mutex::new(Vec::new()),
        }
    }

    fn id(ms: u64, inc: u16) -> Snowflake {
        Snowflake::from_parts(1_704_067_200_000 + ms, 0, 0, inc).unwrap()
    }

    fn q(anchor: HistoryAnchor, limit: u8) -> HistoryQuery {
        HistoryQuery { anchor, limit }
    }

    /// Messages in bursts over many narrow buckets with empty ones between.
    fn spread() -> (Vec<Snowflake>, TimeBuckets) {
        let tb = TimeBuckets::new(10_000).unwrap(); // 10-second buckets
        let ids = (0..300u64)
            .map(|i| id((i / 7) * 23_000 + (i % 7) * 100, (i % 4096) as u16))
            .collect();
        (ids, tb)
    }

    #[tokio::test]
    async fn paging_back_and_forth_visits_every_message_once() {
        let (mut ids, tb) = spread();
        let f = fake(&ids, tb);
        let buckets: Vec<u32> = f.parts.keys().copied().collect();
        assert!(buckets.len() > 30, "spread over many buckets");
        ids.sort();
        for limit in [1u8, 7, 50, 100] {
            let mut seen = Vec::new();
            let mut anchor = HistoryAnchor::Latest;
            loop {
                let page = history(&f, tb, &buckets, q(anchor, limit)).await.unwrap();
                let Some(last) = page.last() else { break };
                anchor = HistoryAnchor::Before(last.id);
                seen.extend(page.iter().map(|m| m.id));
            }
            let mut want = ids.clone();
            want.reverse();
            assert_eq!(seen, want, "before-paging with limit {limit}");

            let mut seen = Vec::new();
            let mut cursor = Snowflake::new(0);
            loop {
                let page = history(&f, tb, &buckets, q(HistoryAnchor::After(cursor), limit))
                    .await
                    .unwrap();
                if page.is_empty() {
                    break;
                }
                cursor = page[0].id;
                seen.extend(page.iter().rev().map(|m| m.id));
            }
            assert_eq!(seen, ids, "after-paging with limit {limit}");
        }
    }

    #[tokio::test]
    async fn around_spans_a_bucket_boundary() {
        let (mut ids, tb) = spread();
        ids.sort();
        let f = fake(&ids, tb);
        let buckets: Vec<u32> = f.parts.keys().copied().collect();
        // The first message of some bucket: its older neighbours are in the
        // previous non-empty bucket.
        let pivot = (1..ids.len())
            .find(|i| tb.bucket_of(ids[*i]) != tb.bucket_of(ids[i - 1]))
            .unwrap();
        let page = history(&f, tb, &buckets, q(HistoryAnchor::Around(ids[pivot]), 6))
            .await
            .unwrap();
        let got: Vec<Snowflake> = page.iter().map(|m| m.id).collect();
        let want: Vec<Snowflake> = ids[pivot - 2..=pivot + 3].iter().rev().copied().collect();
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn stops_reading_once_the_page_is_full() {
        let (ids, tb) = spread();
        let f = fake(&ids, tb);
        let buckets: Vec<u32> = f.parts.keys().copied().collect();
        history(&f, tb, &buckets, q(HistoryAnchor::Latest, 3))
            .await
            .unwrap();
        assert_eq!(
            f.reads.lock().unwrap().len(),
            1,
            "the newest bucket holds 3+"
        );
        // Empty buckets are never read: only buckets the index lists.
        f.reads.lock().unwrap().clear();
        history(&f, tb, &buckets, q(HistoryAnchor::Latest, 100))
            .await
            .unwrap();
        let reads = f.reads.lock().unwrap().clone();
        assert!(reads.iter().all(|b| f.parts.contains_key(b)));
        assert!(reads.windows(2).all(|w| w[0] > w[1]), "newest bucket first");
    }
}
