//! Gateway sessions: what a RESUME on any node needs, and a bounded replay
//! log of the events each session was sent.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use discord_proto::Snowflake;
use serde::{Deserialize, Serialize};

use crate::Result;

/// Payloads logged together, in order: one list shared by every session of
/// a [`LogBatch`] that was sent the same events.
pub type SharedRun = Arc<[Arc<str>]>;

/// A session's replay log as its store found it once
/// ([`SessionStore::log_handle`]), for later batches
/// ([`LogBatch::push_run_to`]): a store that keeps logs in process appends
/// through it without finding the session by ID again. At 1 M
/// deliveries/s the gateway logs each session's batch several times a
/// second, and finding the session in the in-memory store's map (hashing
/// the ID, probing the map, a cache miss on its slot) was the largest share
/// of the gateway's own code left on its writing core.
///
/// What it holds is the backend's own; a store given a handle it did not
/// make, or one for a session that has since been deleted, expired or
/// replaced, finds the session by ID as without one.
#[derive(Clone)]
pub struct LogHandle(Arc<dyn std::any::Any + Send + Sync>);

impl LogHandle {
    /// A handle holding `target`, for a backend's own use.
    pub fn new<T: std::any::Any + Send + Sync>(target: Arc<T>) -> Self {
        LogHandle(target)
    }

    /// What the handle holds, if it is a `T`.
    pub fn get<T: std::any::Any>(&self) -> Option<&T> {
        self.0.downcast_ref()
    }
}

impl std::fmt::Debug for LogHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogHandle").finish_non_exhaustive()
    }
}

/// How many of a batch's latest distinct runs a new one is compared with
/// before it is kept as a run of its own.
const SHARE_WITH: usize = 4;

/// Replay-log entries of several sessions, for
/// [`SessionStore::append_batch`]: for each session, runs of consecutively
/// numbered payloads. The gateway logs a chunk of about a hundred sessions
/// per call, many times a second, and the sessions of a busy guild are
/// sent the same events in the same order: a run of payloads that equals
/// one of the batch's latest (the same payloads, by address) is kept once
/// and shared, so the batch costs one list per distinct run, not one entry
/// per session and event, and an in-memory store keeps that one list for
/// all of them.
#[derive(Debug, Default)]
pub struct LogBatch<'a> {
    /// Each session's ID, its log handle if the caller had one, the
    /// sequence number of its run's first payload, and which of `runs` it
    /// is.
    sessions: Vec<(&'a str, Option<&'a LogHandle>, u64, usize)>,
    runs: Vec<SharedRun>,
}

impl<'a> LogBatch<'a> {
    /// An empty batch with room for `sessions` sessions' runs.
    pub fn with_capacity(sessions: usize) -> Self {
        LogBatch {
            sessions: Vec::with_capacity(sessions),
            runs: Vec::new(),
        }
    }

    /// Adds a session's entries, `(seq, payload)` in order. Entries whose
    /// numbers are not consecutive are split into runs that are. A session
    /// without any is left out.
    pub fn push(
        &mut self,
        session_id: &'a str,
        entries: impl IntoIterator<Item = (u64, Arc<str>)>,
    ) {
        let mut run: Vec<Arc<str>> = Vec::new();
        let mut first = 0u64;
        for (seq, payload) in entries {
            if !run.is_empty() && first.checked_add(run.len() as u64) != Some(seq) {
                self.push_owned(session_id, first, std::mem::take(&mut run));
            }
            if run.is_empty() {
                first = seq;
            }
            run.push(payload);
        }
        self.push_owned(session_id, first, run);
    }

    /// Adds a session's run of payloads, numbered from `first`. A run
    /// equal to one of the batch's latest is shared with it rather than
    /// copied. An empty run is left out.
    pub fn push_run<'p>(
        &mut self,
        session_id: &'a str,
        first: u64,
        payloads: impl ExactSizeIterator<Item = &'p Arc<str>> + Clone,
    ) {
        self.push_run_to(session_id, None, first, payloads);
    }

    /// [`push_run`](Self::push_run) with the session's log handle, if the
    /// caller keeps one (see [`LogHandle`]); `log` must be the handle the
    /// same store gave for `session_id`.
    pub fn push_run_to<'p>(
        &mut self,
        session_id: &'a str,
        log: Option<&'a LogHandle>,
        first: u64,
        payloads: impl ExactSizeIterator<Item = &'p Arc<str>> + Clone,
    ) {
        if payloads.len() == 0 {
            return;
        }
        let found = self.find(payloads.clone());
        self.add(session_id, log, first, found, || {
            payloads.cloned().collect()
        });
    }

    /// [`push_run`](Self::push_run) for a run the caller owns: kept as it
    /// is when it is not shared.
    fn push_owned(&mut self, session_id: &'a str, first: u64, run: Vec<Arc<str>>) {
        if run.is_empty() {
            return;
        }
        let found = self.find(run.iter());
        self.add(session_id, None, first, found, || run.into());
    }

    /// Adds a session's run: the batch's run `found`, or else a new one
    /// that `make` makes.
    fn add(
        &mut self,
        session_id: &'a str,
        log: Option<&'a LogHandle>,
        first: u64,
        found: Option<usize>,
        make: impl FnOnce() -> SharedRun,
    ) {
        let index = found.unwrap_or_else(|| {
            self.runs.push(make());
            self.runs.len() - 1
        });
        self.sessions.push((session_id, log, first, index));
    }

    /// Which of the batch's latest [`SHARE_WITH`] runs holds exactly
    /// `payloads` (by address), if one does.
    fn find<'p>(
        &self,
        payloads: impl ExactSizeIterator<Item = &'p Arc<str>> + Clone,
    ) -> Option<usize> {
        let same = |run: &SharedRun| {
            run.len() == payloads.len()
                && run
                    .iter()
                    .zip(payloads.clone())
                    .all(|(a, b)| Arc::ptr_eq(a, b))
        };
        let latest = self.runs.len().saturating_sub(SHARE_WITH);
        (latest..self.runs.len())
            .rev()
            .find(|&i| same(&self.runs[i]))
    }

    /// Whether no session has entries.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Each session's runs in the order they were pushed: its ID, the
    /// number of the run's first payload, and the payloads.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, u64, &SharedRun)> {
        self.iter_with_handles()
            .map(|(id, _, first, run)| (id, first, run))
    }

    /// [`iter`](Self::iter) with each session's log handle, where the
    /// caller gave one.
    pub fn iter_with_handles(
        &self,
    ) -> impl Iterator<Item = (&'a str, Option<&'a LogHandle>, u64, &SharedRun)> {
        self.sessions
            .iter()
            .map(|&(id, log, first, run)| (id, log, first, &self.runs[run]))
    }

    /// How many distinct runs the batch holds (the rest are shared).
    pub fn distinct_runs(&self) -> usize {
        self.runs.len()
    }
}

/// The resumable state of a gateway session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The session's ID.
    pub session_id: String,
    /// Its user.
    pub user_id: Snowflake,
    /// Its intents.
    pub intents: u64,
    /// `[shard_id, num_shards]`.
    pub shard: [u32; 2],
    /// The last sequence number sent.
    pub seq: u64,
    /// The node that holds the connection, if it is connected.
    pub node_id: Option<String>,
}

/// The result of asking for a replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Replay {
    /// Every event after the requested sequence number, in order (possibly
    /// none).
    Events(Vec<(u64, String)>),
    /// Some events after the requested sequence number were already dropped
    /// from the bounded log (or a store that keeps it outside the process
    /// found it unreadable), or the number is ahead of the log: the session
    /// cannot be resumed from it.
    Gap,
    /// No such session (never existed or expired).
    UnknownSession,
}

/// Session state and replay logs. A record and its log expire `ttl` after
/// the last save. Appends renew that too, each one or (Redis) at least
/// every 64 sequence numbers, but a session is kept by being saved: the
/// gateway saves a live session on its heartbeats and a dropped one when
/// it drops, and a dropped session's resume window is shorter than `ttl`.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Saves (creates or replaces) a session's state.
    async fn save(&self, session: &SessionRecord, ttl: Duration) -> Result<()>;
    /// A session's state.
    async fn get(&self, session_id: &str) -> Result<Option<SessionRecord>>;
    /// Deletes a session and its log.
    async fn delete(&self, session_id: &str) -> Result<()>;
    /// Appends a sent event (its sequence number and encoded payload) to the
    /// session's log, and records `seq` as the session's last sequence
    /// number. Entries beyond the store's bound, oldest first, are dropped
    /// or at least never replayed.
    ///
    /// Payloads are shared (`Arc<str>`): the gateway logs one payload for
    /// every session that received an event, and an in-process store keeps
    /// that one copy rather than one per session.
    async fn append(
        &self,
        session_id: &str,
        seq: u64,
        payload: Arc<str>,
        ttl: Duration,
    ) -> Result<()>;
    /// [`SessionStore::append`] for several events in order, in one round
    /// trip where the backend allows it (the gateway logs a batch of events
    /// before writing them to the socket). The entries are taken by value:
    /// a store that keeps them keeps these references rather than cloning
    /// them (each clone and drop touches a counter every recipient of the
    /// event shares).
    async fn append_many(
        &self,
        session_id: &str,
        entries: Vec<(u64, Arc<str>)>,
        ttl: Duration,
    ) -> Result<()> {
        for (seq, payload) in entries {
            self.append(session_id, seq, payload, ttl).await?;
        }
        Ok(())
    }
    /// [`SessionStore::append_many`] for several sessions at once: each
    /// session's entries are appended in order, in one round trip for the
    /// whole batch where the backend allows it (the gateway logs what it
    /// is about to write to a whole sweep of sessions together). A store
    /// that keeps payloads in process may keep each of the batch's
    /// [`SharedRun`]s as it is, shared by the sessions that were sent it.
    /// On an error, some sessions' entries may have been appended and
    /// others not.
    async fn append_batch(&self, batch: LogBatch<'_>, ttl: Duration) -> Result<()> {
        for (session_id, first, run) in batch.iter() {
            let entries = (first..).zip(run.iter().cloned()).collect();
            self.append_many(session_id, entries, ttl).await?;
        }
        Ok(())
    }
    /// The events after `seq`.
    async fn replay_after(&self, session_id: &str, seq: u64) -> Result<Replay>;
    /// A handle on a live session's log that later batches may name it by
    /// ([`LogBatch::push_run_to`]), so that a store keeping logs in process
    /// need not find the session by ID for each. `None` (the default, and
    /// for a session the store does not hold): batches find it by ID.
    /// Appends through a handle behave exactly as by ID: once the session
    /// is deleted, expires or is saved anew after expiring, the store finds
    /// it by ID.
    fn log_handle(&self, session_id: &str) -> Option<LogHandle> {
        let _ = session_id;
        None
    }
}

/// The replay rule shared by backends: `log` holds sequence numbers in
/// order, oldest first. Events after `seq` can be replayed when the log
/// still holds `seq + 1` (or `seq` is the last one sent) and every number
/// after it: a hole (an append that failed while the event was still sent)
/// makes the replay a [`Replay::Gap`], so a resuming client is told to
/// start over rather than silently miss the event. Only the payloads
/// replayed are made into `String`s.
pub(crate) fn replay_from<P: AsRef<str>>(
    log: impl Iterator<Item = (u64, P)> + Clone,
    seq: u64,
) -> Replay {
    let (Some((first, _)), Some((last, _))) = (log.clone().next(), log.clone().last()) else {
        return if seq == 0 {
            Replay::Events(Vec::new())
        } else {
            Replay::Gap
        };
    };
    if seq > last || seq + 1 < first {
        return Replay::Gap;
    }
    let mut events = Vec::new();
    for (s, p) in log.filter(|(s, _)| *s > seq) {
        if s != seq + 1 + events.len() as u64 {
            return Replay::Gap;
        }
        events.push((s, p.as_ref().to_owned()));
    }
    Replay::Events(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_needs_every_number_after_the_one_asked_for() {
        let log = |seqs: &[u64]| -> Vec<(u64, String)> {
            seqs.iter().map(|s| (*s, format!("e{s}"))).collect()
        };
        let replay = |seqs: &[u64], seq| replay_from(log(seqs).into_iter(), seq);
        let events = |seqs: &[u64]| Replay::Events(log(seqs));
        assert_eq!(replay(&[3, 4, 5], 2), events(&[3, 4, 5]));
        assert_eq!(replay(&[3, 4, 5], 4), events(&[5]));
        assert_eq!(replay(&[3, 4, 5], 5), events(&[]));
        assert_eq!(replay(&[3, 4, 5], 1), Replay::Gap, "3 is the oldest kept");
        assert_eq!(replay(&[3, 4, 5], 6), Replay::Gap, "ahead of the log");
        // 5 was sent but never logged.
        assert_eq!(replay(&[3, 4, 6, 7], 3), Replay::Gap);
        assert_eq!(replay(&[3, 4, 6, 7], 4), Replay::Gap);
        // A hole before what is asked for does not matter.
        assert_eq!(replay(&[3, 4, 6, 7], 6), events(&[7]));
        assert_eq!(replay(&[], 0), events(&[]));
        assert_eq!(replay(&[], 3), Replay::Gap);
    }

    #[test]
    fn a_log_batch_keeps_each_sessions_runs_apart_and_in_order() {
        let entry = |s: &str| -> Arc<str> { s.into() };
        let mut batch = LogBatch::with_capacity(3);
        batch.push("a", [(1, entry("a1")), (2, entry("a2"))]);
        batch.push("empty", []);
        // Not consecutive: two runs.
        batch.push("b", [(7, entry("b7")), (9, entry("b9"))]);
        batch.push("a", [(3, entry("a3"))]);
        let seen: Vec<(&str, Vec<u64>, Vec<String>)> = batch
            .iter()
            .map(|(id, first, run)| {
                let seqs = (first..).take(run.len()).collect();
                (id, seqs, run.iter().map(|p| p.to_string()).collect())
            })
            .collect();
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            seen,
            [
                ("a", vec![1, 2], strings(&["a1", "a2"])),
                ("b", vec![7], strings(&["b7"])),
                ("b", vec![9], strings(&["b9"])),
                ("a", vec![3], strings(&["a3"])),
            ]
        );
        assert!(LogBatch::default().is_empty());
        // At the top of the numbers: one run, no overflow.
        let mut batch = LogBatch::default();
        batch.push("top", [(u64::MAX - 1, entry("x")), (u64::MAX, entry("y"))]);
        let runs: Vec<(u64, usize)> = batch.iter().map(|(_, f, r)| (f, r.len())).collect();
        assert_eq!(runs, [(u64::MAX - 1, 2)]);
    }

    #[test]
    fn sessions_sent_the_same_payloads_share_one_run() {
        let events: Vec<Arc<str>> = ["e1", "e2", "e3"].map(Arc::from).into();
        let other: Vec<Arc<str>> = ["e1", "e2", "e3"].map(Arc::from).into();
        let ids: Vec<String> = (0..10).map(|i| format!("s{i}")).collect();
        let mut batch = LogBatch::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            match i {
                // Equal text, other payloads: not shared.
                3 => batch.push_run(id, 5, other.iter()),
                // A part of the run: a run of its own.
                4 => batch.push_run(id, 6, events[1..].iter()),
                _ => batch.push_run(id, 10 + i as u64, events.iter()),
            }
        }
        assert_eq!(
            batch.distinct_runs(),
            3,
            "the shared run, the copies, the part"
        );
        let runs: Vec<&SharedRun> = batch.iter().map(|(_, _, run)| run).collect();
        assert!(Arc::ptr_eq(runs[0], runs[9]), "shared across the batch");
        assert!(!Arc::ptr_eq(runs[0], runs[3]));
        assert_eq!(runs[4].len(), 2);
        assert_eq!(Arc::strong_count(&events[0]), 2, "one copy in the batch");
        let firsts: Vec<u64> = batch.iter().map(|(_, first, _)| first).collect();
        assert_eq!(firsts[..5], [10, 11, 12, 5, 6]);
        assert_eq!(firsts[9], 19);
        // Entries pushed one by one share runs too.
        let mut batch = LogBatch::default();
        batch.push("p", (1..).zip(events.iter().cloned()));
        batch.push("q", (4..).zip(events.iter().cloned()));
        assert_eq!(batch.distinct_runs(), 1);
        let firsts: Vec<u64> = batch.iter().map(|(_, first, _)| first).collect();
        assert_eq!(firsts, [1, 4]);
        // Past the latest few distinct runs, a run is not looked for.
        let mut batch = LogBatch::default();
        let singles: Vec<Arc<str>> = (0..SHARE_WITH + 1)
            .map(|i| Arc::from(i.to_string()))
            .collect();
        for single in &singles {
            batch.push_run("x", 1, std::iter::once(single));
        }
        batch.push_run("y", 1, std::iter::once(&singles[0]));
        batch.push_run("z", 1, std::iter::once(&singles[SHARE_WITH]));
        assert_eq!(batch.distinct_runs(), SHARE_WITH + 2);
    }
}
