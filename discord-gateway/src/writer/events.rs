//! The events a chunk's claims took, each shared event kept once.
//!
//! A chunk's sessions mostly claim the same events: the share of their
//! guild's pending runs. Each claim used to hold its own `Arc` of every
//! event, raised when claimed and dropped when written: two locked
//! operations per delivery on the one counter every recipient shares.
//! Here a claim lists its events as places in the chunk's table, and an
//! event the previous claim holds at the same place is not raised again.

use std::ops::Range;
use std::sync::Arc;

use crate::hub::Prepared;

/// The events of a chunk's claims, in claim order.
#[derive(Default)]
pub(crate) struct ChunkEvents {
    /// The events, each held once per run of claims that share it.
    table: Vec<Arc<Prepared>>,
    /// Every claimed event in claim order, as its place in `table`.
    order: Vec<u32>,
    /// Where the last non-empty claim before the current one starts in
    /// `order` (it ends at `current`).
    previous: usize,
    /// Where the current claim starts in `order`.
    current: usize,
}

impl ChunkEvents {
    /// An empty list.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// How many events were claimed in all.
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// Starts the next session's claim: its events are those added from
    /// here on.
    pub(crate) fn begin(&mut self) {
        if self.order.len() > self.current {
            self.previous = self.current;
            self.current = self.order.len();
        }
    }

    /// Adds an event the claim takes over (from its session's queue).
    pub(crate) fn push(&mut self, event: Arc<Prepared>) {
        let at = u32::try_from(self.table.len()).expect("a chunk's events fit in u32");
        self.table.push(event);
        self.order.push(at);
    }

    /// Adds an event shared with other sessions: if the previous claim
    /// has the same event at the same place, the claim lists that one and
    /// no counter is touched; otherwise the event is held anew.
    pub(crate) fn push_shared(&mut self, event: &Arc<Prepared>) {
        let same_place = self.previous + (self.order.len() - self.current);
        if same_place < self.current {
            let at = self.order[same_place];
            if Arc::ptr_eq(&self.table[at as usize], event) {
                self.order.push(at);
                return;
            }
        }
        self.push(Arc::clone(event));
    }

    /// Takes the events from `from` on out of the list (for a queue).
    pub(crate) fn split_off(&mut self, from: usize) -> Vec<Arc<Prepared>> {
        let rest = self.order.split_off(from);
        self.current = self.current.min(from);
        self.previous = self.previous.min(self.current);
        rest.into_iter()
            .map(|at| Arc::clone(&self.table[at as usize]))
            .collect()
    }

    /// The events claimed at `range` of the claim order.
    pub(crate) fn get(
        &self,
        range: Range<usize>,
    ) -> impl ExactSizeIterator<Item = &Prepared> + Clone + '_ {
        self.order[range]
            .iter()
            .map(|&at| &*self.table[at as usize])
    }

    /// How many events the list holds (a shared event once per run of
    /// claims that share it).
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.table.len()
    }
}

impl Extend<Arc<Prepared>> for ChunkEvents {
    fn extend<I: IntoIterator<Item = Arc<Prepared>>>(&mut self, events: I) {
        for event in events {
            self.push(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: u64) -> Arc<Prepared> {
        Arc::new(Prepared::new(id, "MESSAGE_CREATE", &id.to_string()))
    }

    fn ids(list: &ChunkEvents, range: Range<usize>) -> Vec<u64> {
        list.get(range).map(|e| e.data().parse().unwrap()).collect()
    }

    #[test]
    fn claims_of_the_same_events_hold_each_once() {
        let (a, b, c) = (event(1), event(2), event(3));
        let mut list = ChunkEvents::new();
        for _ in 0..3 {
            list.begin();
            for e in [&a, &b, &c] {
                list.push_shared(e);
            }
        }
        assert_eq!(list.len(), 9);
        assert_eq!(list.held(), 3);
        assert_eq!(Arc::strong_count(&a), 2);
        for claim in 0..3 {
            assert_eq!(ids(&list, 3 * claim..3 * claim + 3), [1, 2, 3]);
        }
    }

    #[test]
    fn claims_that_differ_keep_their_own_events_in_order() {
        let (a, b, c, q) = (event(1), event(2), event(3), event(9));
        let mut list = ChunkEvents::new();
        list.begin();
        list.push_shared(&a);
        list.push_shared(&b);
        // An empty claim between two is skipped over.
        list.begin();
        list.begin();
        // One queued event first: the shared ones are a place later.
        list.push(Arc::clone(&q));
        list.push_shared(&a);
        list.push_shared(&b);
        list.begin();
        // A filtered share: b is not this session's.
        list.push(Arc::clone(&q));
        list.push_shared(&a);
        list.push_shared(&c);
        assert_eq!(ids(&list, 0..2), [1, 2]);
        assert_eq!(ids(&list, 2..5), [9, 1, 2]);
        assert_eq!(ids(&list, 5..8), [9, 1, 3]);
        // The second claim's a and b were a place off the first's; the
        // third's a is where the second's was, its c is not.
        assert_eq!(list.held(), 7);
    }

    #[test]
    fn what_is_split_off_leaves_and_later_claims_still_match() {
        let (a, b, c) = (event(1), event(2), event(3));
        let mut list = ChunkEvents::new();
        list.begin();
        for e in [&a, &b, &c] {
            list.push_shared(e);
        }
        list.begin();
        for e in [&a, &b, &c] {
            list.push_shared(e);
        }
        let rest = list.split_off(5);
        assert_eq!(rest.iter().map(|e| e.data()).collect::<Vec<_>>(), ["3"]);
        assert_eq!(list.len(), 5);
        list.begin();
        for e in [&a, &b] {
            list.push_shared(e);
        }
        assert_eq!(ids(&list, 0..3), [1, 2, 3]);
        assert_eq!(ids(&list, 3..5), [1, 2]);
        assert_eq!(ids(&list, 5..7), [1, 2]);
        assert_eq!(list.held(), 3);
        // Everything split off into the queue: the claim is empty and the
        // next one matches the one before it.
        list.begin();
        list.push_shared(&a);
        let rest = list.split_off(7);
        assert_eq!(rest.len(), 1);
        list.begin();
        list.push_shared(&a);
        assert_eq!(ids(&list, 7..8), [1]);
        assert_eq!(list.held(), 3);
    }
}
