//! A session's replay log in memory: the last events it was sent, oldest
//! first, as runs of payloads.
//!
//! The sessions of a busy guild are sent the same events in the same order,
//! and the gateway logs what it writes to a chunk of them together: a run
//! of events that a whole chunk was sent is one list, kept once
//! ([`SharedRun`]), and each session's log holds a reference to it. At 1 M
//! deliveries/s over 5,000 sessions, logging an entry per session and
//! event (a pointer copied into its log, a shared counter raised, and both
//! undone when the entry left) was the largest share of the gateway's own
//! code; now each session pays that once per write, whatever the write
//! carries. A run the log holds only in part (the bound fell inside it)
//! is kept whole until all of it has left the log: a session holds at most
//! one run's worth of entries more than its bound.
//!
//! The list of runs grows as a log first fills, then stays: a full log
//! drops its oldest run as it takes a new one. Its size follows the runs,
//! not the entries (24 bytes a run, where a list of entries took 16 an
//! entry): about a sixth for a session written ten events at a time, and
//! one and a half times as much for a session written one event at a
//! time (the worst case).

use std::collections::VecDeque;
use std::sync::Arc;

use crate::session::SharedRun;

/// Payloads logged together, numbered consecutively.
#[derive(Debug)]
enum Run {
    /// One payload (an append of a single event).
    One(Arc<str>),
    /// A list, shared with the other sessions that were sent it.
    Shared(SharedRun),
}

impl Run {
    fn payloads(&self) -> &[Arc<str>] {
        match self {
            Run::One(p) => std::slice::from_ref(p),
            Run::Shared(run) => run,
        }
    }
}

/// Runs of payloads, oldest first, numbered from `first`: a session's
/// dispatches are numbered consecutively, so the log keeps one sequence
/// number, not one per entry.
#[derive(Debug, Default)]
pub(super) struct Log {
    runs: VecDeque<Run>,
    /// Entries held (from `skip` in the oldest run).
    len: usize,
    /// The sequence number of the oldest entry held.
    first: u64,
    /// Entries of the oldest run that are no longer the log's.
    skip: usize,
}

impl Log {
    /// Appends an entry. An entry that does not follow the last one starts
    /// the log afresh: what came before it could not be replayed in order.
    pub(super) fn push(&mut self, seq: u64, payload: Arc<str>) {
        self.push_run(seq, Run::One(payload));
    }

    /// Appends a run of entries numbered from `first` (a run that does not
    /// follow the last entry starts the log afresh). An empty run is
    /// ignored.
    pub(super) fn push_shared(&mut self, first: u64, run: SharedRun) {
        if !run.is_empty() {
            self.push_run(first, Run::Shared(run));
        }
    }

    fn push_run(&mut self, first: u64, run: Run) {
        if self.len == 0 || self.first.checked_add(self.len as u64) != Some(first) {
            self.runs.clear();
            self.len = 0;
            self.skip = 0;
            self.first = first;
        }
        self.len += run.payloads().len();
        self.runs.push_back(run);
    }

    /// Keeps only the last `keep` entries: older ones leave the log at
    /// once, and are dropped when every entry of their run has left.
    pub(super) fn keep_last(&mut self, keep: usize) {
        while self.len > keep {
            let Some(oldest) = self.runs.front() else {
                break;
            };
            let rest = oldest.payloads().len() - self.skip;
            let out = (self.len - keep).min(rest);
            self.len -= out;
            self.first += out as u64;
            if out == rest {
                self.runs.pop_front();
                self.skip = 0;
            } else {
                self.skip += out;
            }
        }
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (u64, &str)> + Clone {
        let payloads = self.runs.iter().flat_map(|r| r.payloads().iter());
        (self.first..).zip(payloads.skip(self.skip).map(|p| &**p))
    }

    /// Entries held.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Runs held.
    #[cfg(test)]
    pub(super) fn runs(&self) -> usize {
        self.runs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(n: u64) -> Arc<str> {
        format!("event {n}").into()
    }

    /// Kept entries stay in order across runs of every length, the count
    /// is exact, and what is held past the bound is less than one run.
    #[test]
    fn keeps_the_last_entries_in_order_over_runs() {
        for keep in [1, 3, 64, 100, 1000] {
            let mut log = Log::default();
            let mut expected = VecDeque::new();
            let mut n = 1u64;
            let mut size = 0;
            while n <= 2500 {
                // Runs of 1 to 13 entries, single entries among them.
                size = size % 13 + 1;
                if size == 1 {
                    log.push(n, payload(n));
                } else {
                    let run: SharedRun = (n..n + size).map(payload).collect();
                    log.push_shared(n, run);
                }
                expected.extend(n..n + size);
                n += size;
                log.keep_last(keep);
                while expected.len() > keep {
                    expected.pop_front();
                }
                assert_eq!(log.len(), expected.len(), "keep {keep}");
                let held: usize = log.runs.iter().map(|r| r.payloads().len()).sum();
                assert!(held - log.len() < 13, "keep {keep}: {held} held");
            }
            let got: Vec<u64> = log.iter().map(|(seq, _)| seq).collect();
            assert_eq!(got, Vec::from(expected), "keep {keep}");
            assert!(log.iter().all(|(seq, p)| p == &*payload(seq)));
        }
    }

    /// One run shared by several logs is one list: each log reads it from
    /// its own point, and it is dropped when the last log lets it go.
    #[test]
    fn logs_share_a_run_and_read_it_from_their_own_bound() {
        let run: SharedRun = (1..=8).map(payload).collect();
        let mut a = Log::default();
        let mut b = Log::default();
        a.push_shared(1, Arc::clone(&run));
        b.push(1, payload(100));
        b.push_shared(2, Arc::clone(&run));
        assert_eq!(Arc::strong_count(&run), 3);
        a.keep_last(3);
        let seqs = |log: &Log| log.iter().map(|(s, _)| s).collect::<Vec<_>>();
        assert_eq!(seqs(&a), [6, 7, 8]);
        assert_eq!(
            a.iter().next().map(|(_, p)| p.to_owned()),
            Some("event 6".into())
        );
        assert_eq!(seqs(&b), (1..=9).collect::<Vec<_>>());
        assert_eq!(
            b.iter().nth(1).map(|(_, p)| p.to_owned()),
            Some("event 1".into())
        );
        a.push(9, payload(9));
        a.keep_last(1);
        assert_eq!(seqs(&a), [9]);
        assert_eq!(Arc::strong_count(&run), 2, "a let it go");
        b.keep_last(0);
        assert_eq!(Arc::strong_count(&run), 1);
    }

    #[test]
    fn an_entry_out_of_sequence_starts_the_log_afresh() {
        let mut log = Log::default();
        log.push_shared(5, (5..=9).map(payload).collect());
        log.push(12, payload(12));
        log.push(13, payload(13));
        let got: Vec<(u64, String)> = log.iter().map(|(s, p)| (s, p.to_owned())).collect();
        assert_eq!(
            got,
            vec![(12, "event 12".to_owned()), (13, "event 13".to_owned())]
        );
        log.push_shared(3, [payload(3)].into());
        assert_eq!(log.iter().map(|(s, _)| s).collect::<Vec<_>>(), [3]);
        log.push_shared(4, Arc::new([]));
        assert_eq!(log.len(), 1, "an empty run is no entry");
        log.keep_last(0);
        log.push(40, payload(40));
        assert_eq!(log.iter().map(|(s, _)| s).collect::<Vec<_>>(), [40]);
    }

    /// What a log is asked to do, for the property below.
    #[derive(Clone, Debug)]
    enum Op {
        /// One entry, numbered `skip` after the next number.
        One {
            skip: u64,
        },
        /// A run of `len` entries, numbered `skip` after the next number.
        Run {
            len: u64,
            skip: u64,
        },
        /// The last run pushed again to another log, then to this one
        /// (numbered next): the run is shared.
        Shared,
        Keep(usize),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        // Mostly consecutive numbers; now and then a gap or a number
        // from before, which starts the log afresh.
        let skip = prop_oneof![8 => Just(0u64), 1 => 1u64..5];
        prop_oneof![
            3 => skip.clone().prop_map(|skip| Op::One { skip }),
            4 => (1u64..14, skip).prop_map(|(len, skip)| Op::Run { len, skip }),
            2 => Just(Op::Shared),
            2 => (0usize..40).prop_map(Op::Keep),
        ]
    }

    proptest::proptest! {
        /// Whatever is pushed and trimmed, the log holds exactly what a
        /// plain list of `(seq, payload)` does under the same rules: an
        /// entry that does not follow the last starts it afresh, and a
        /// trim keeps the last entries. What it holds past that is less
        /// than one run.
        #[test]
        fn a_log_holds_what_a_plain_list_would(ops in proptest::collection::vec(op(), 1..120)) {
            let mut log = Log::default();
            let mut other = Log::default();
            let mut model: Vec<(u64, String)> = Vec::new();
            let mut next = 1u64;
            let mut last_run: Option<SharedRun> = None;
            let push_model = |model: &mut Vec<(u64, String)>, first: u64, run: &[Arc<str>]| {
                if model.last().is_none_or(|(s, _)| s + 1 != first) {
                    model.clear();
                }
                model.extend((first..).zip(run.iter().map(|p| p.to_string())));
            };
            for op in ops {
                match op {
                    Op::One { skip } => {
                        let seq = next + skip;
                        log.push(seq, payload(seq));
                        push_model(&mut model, seq, &[payload(seq)]);
                        next = seq + 1;
                    }
                    Op::Run { len, skip } => {
                        let first = next + skip;
                        let run: SharedRun = (first..first + len).map(payload).collect();
                        log.push_shared(first, Arc::clone(&run));
                        push_model(&mut model, first, &run);
                        last_run = Some(run);
                        next = first + len;
                    }
                    Op::Shared => {
                        if let Some(run) = &last_run {
                            other.push_shared(1, Arc::clone(run));
                            log.push_shared(next, Arc::clone(run));
                            push_model(&mut model, next, run);
                            next += run.len() as u64;
                        }
                    }
                    Op::Keep(keep) => {
                        log.keep_last(keep);
                        let cut = model.len().saturating_sub(keep);
                        model.drain(..cut);
                    }
                }
                let got: Vec<(u64, String)> = log.iter().map(|(s, p)| (s, p.to_owned())).collect();
                proptest::prop_assert_eq!(&got, &model);
                proptest::prop_assert_eq!(log.len(), model.len());
                let held: usize = log.runs.iter().map(|r| r.payloads().len()).sum();
                proptest::prop_assert!(held - log.len() < 13);
            }
        }
    }

    #[test]
    fn an_emptied_log_drops_its_runs() {
        let mut log = Log::default();
        log.push(1, payload(1));
        log.push_shared(2, (2..=4).map(payload).collect());
        log.keep_last(0);
        assert_eq!(log.iter().count(), 0);
        assert!(log.runs.is_empty());
    }
}
