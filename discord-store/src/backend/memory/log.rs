//! A session's replay log in memory: the last events it was sent, oldest
//! first, held in blocks that are filled and dropped whole.
//!
//! One growable ring per session doubled its storage as the log filled,
//! copying it into new memory each time. Every session of a busy guild
//! receives the same events, so their logs all grew at the same moments:
//! at 1 M deliveries/s over 5,000 sessions those reallocations and first
//! touches of new pages were every page fault of the gateway process,
//! thousands in a burst, and each burst stalled delivery for a few hundred
//! milliseconds. Blocks never move once allocated; a full log frees its
//! oldest block as it starts a new one, and the allocator hands that
//! memory back for the next, so a log at its capacity costs no new pages.

use std::collections::VecDeque;
use std::sync::Arc;

/// Slots of a log's first block (most sessions log little: keep them
/// small). Each block after it is twice as large, up to [`MAX_BLOCK`].
const FIRST_BLOCK: usize = 4;

/// Slots of a full-size block (16 bytes each: 1 KiB).
const MAX_BLOCK: usize = 64;

/// Payloads, oldest first, numbered from `first`: a session's dispatches
/// are numbered consecutively, so the log keeps one sequence number, not
/// one per entry (16 bytes an entry instead of 24: a third less memory for
/// a full log, and fewer cache lines touched per append).
#[derive(Default)]
pub(super) struct Log {
    /// Each block is allocated at its final size and never grows.
    blocks: VecDeque<VecDeque<Arc<str>>>,
    len: usize,
    /// The sequence number of the oldest entry.
    first: u64,
    /// The oldest entries, no longer the log's since `keep_last`, that
    /// stay in the front block until the whole block is dropped.
    hidden: usize,
}

impl Log {
    /// Appends an entry. An entry that does not follow the last one starts
    /// the log afresh: what came before it could not be replayed in order.
    pub(super) fn push(&mut self, seq: u64, payload: Arc<str>) {
        if self.len == 0 || seq != self.first + self.len as u64 {
            self.blocks.clear();
            self.len = 0;
            self.hidden = 0;
            self.first = seq;
        }
        let block = match self.blocks.back_mut() {
            Some(b) if b.len() < b.capacity() => b,
            last => {
                let size = last.map_or(FIRST_BLOCK, |b| (b.capacity() * 2).min(MAX_BLOCK));
                self.blocks.push_back(VecDeque::with_capacity(size));
                self.blocks.back_mut().expect("just pushed")
            }
        };
        block.push_back(payload);
        self.len += 1;
    }

    /// Keeps only the last `keep` entries: older ones leave the log at
    /// once, and are dropped (their block freed) when every entry of
    /// their block has left. A write trims its session's log by whole
    /// blocks, not by a few entries each time.
    pub(super) fn keep_last(&mut self, keep: usize) {
        while let Some(front) = self.blocks.front() {
            if self.len - front.len() < keep {
                break;
            }
            self.len -= front.len();
            self.first += front.len() as u64;
            self.blocks.pop_front();
        }
        self.hidden = self.len.saturating_sub(keep);
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (u64, &str)> + Clone {
        let hidden = self.hidden;
        (self.first + hidden as u64..).zip(self.blocks.iter().flatten().skip(hidden).map(|p| &**p))
    }

    /// Entries held.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.len - self.hidden
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(n: u64) -> Arc<str> {
        format!("event {n}").into()
    }

    /// Kept entries stay in order across block boundaries, the count is
    /// exact, and no block ever grows past the size it was made with.
    #[test]
    fn keeps_the_last_entries_in_order_in_fixed_blocks() {
        let mut log = Log::default();
        for keep in [1, 3, 64, 100, 1000] {
            let mut expected = VecDeque::new();
            for n in 1..=2500u64 {
                log.push(n, payload(n));
                expected.push_back(n);
                // Trimmed after each push or after a few, as batches are.
                if n % 7 == 0 || n == 2500 {
                    log.keep_last(keep);
                    while expected.len() > keep {
                        expected.pop_front();
                    }
                    // Trimmed by whole blocks: what is held past the
                    // bound is less than one block.
                    assert!(log.len - log.len() < MAX_BLOCK, "keep {keep}");
                }
                for block in &log.blocks {
                    assert!(block.capacity() <= MAX_BLOCK.next_power_of_two());
                }
            }
            let got: Vec<u64> = log.iter().map(|(seq, _)| seq).collect();
            assert_eq!(got, Vec::from(expected.clone()), "keep {keep}");
            assert_eq!(log.len(), keep);
            assert!(log.iter().all(|(seq, p)| p == &*payload(seq)));
            log = Log::default();
        }
    }

    /// A short log holds one small block.
    #[test]
    fn an_entry_out_of_sequence_starts_the_log_afresh() {
        let mut log = Log::default();
        for n in 5..=9 {
            log.push(n, payload(n));
        }
        log.push(12, payload(12));
        log.push(13, payload(13));
        let got: Vec<(u64, String)> = log.iter().map(|(s, p)| (s, p.to_owned())).collect();
        assert_eq!(
            got,
            vec![(12, "event 12".to_owned()), (13, "event 13".to_owned())]
        );
        log.push(3, payload(3));
        assert_eq!(log.iter().map(|(s, _)| s).collect::<Vec<_>>(), [3]);
        log.keep_last(0);
        log.push(40, payload(40));
        assert_eq!(log.iter().map(|(s, _)| s).collect::<Vec<_>>(), [40]);
    }

    #[test]
    fn a_short_log_is_small() {
        let mut log = Log::default();
        log.push(1, payload(1));
        log.push(2, payload(2));
        assert_eq!(log.blocks.len(), 1);
        assert!(log.blocks[0].capacity() < 8);
        log.keep_last(0);
        assert_eq!(log.iter().count(), 0);
        assert!(log.blocks.is_empty(), "an emptied log frees its blocks");
    }
}
