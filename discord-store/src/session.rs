//! Gateway sessions: what a RESUME on any node needs, and a bounded replay
//! log of the events each session was sent.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use discord_proto::Snowflake;
use serde::{Deserialize, Serialize};

use crate::Result;

/// One replay-log entry: a sequence number and the logged payload.
pub type LogEntry = (u64, Arc<str>);

/// Replay-log entries of several sessions, for
/// [`SessionStore::append_batch`]: each session's entries in order, one
/// session after another, in one list for the whole batch (not one list
/// per session: the gateway logs a chunk of about a hundred sessions per
/// call, many times a second).
#[derive(Debug, Default)]
pub struct LogBatch<'a> {
    /// Each session's ID and how many of `entries` are its own.
    sessions: Vec<(&'a str, usize)>,
    entries: Vec<LogEntry>,
}

impl<'a> LogBatch<'a> {
    /// An empty batch with room for `sessions` sessions and `entries`
    /// entries in all.
    pub fn with_capacity(sessions: usize, entries: usize) -> Self {
        LogBatch {
            sessions: Vec::with_capacity(sessions),
            entries: Vec::with_capacity(entries),
        }
    }

    /// Adds a session's entries, `(seq, payload)` in order. A session
    /// without any is left out.
    pub fn push(
        &mut self,
        session_id: &'a str,
        entries: impl IntoIterator<Item = (u64, Arc<str>)>,
    ) {
        let before = self.entries.len();
        self.entries.extend(entries);
        let n = self.entries.len() - before;
        if n > 0 {
            self.sessions.push((session_id, n));
        }
    }

    /// Whether no session has entries.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Each session with its entries, in the order they were pushed.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &[(u64, Arc<str>)])> {
        let mut rest = &self.entries[..];
        self.sessions.iter().map(move |&(id, n)| {
            let (mine, after) = rest.split_at(n);
            rest = after;
            (id, mine)
        })
    }

    /// The sessions (each with how many entries are its own) and all the
    /// entries, for a store that keeps the entries themselves.
    pub fn into_parts(self) -> (Vec<(&'a str, usize)>, Vec<LogEntry>) {
        (self.sessions, self.entries)
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
    /// is about to write to a whole sweep of sessions together). On an
    /// error, some sessions' entries may have been appended and others not.
    async fn append_batch(&self, batch: LogBatch<'_>, ttl: Duration) -> Result<()> {
        let (sessions, entries) = batch.into_parts();
        let mut entries = entries.into_iter();
        for (session_id, n) in sessions {
            let mine = entries.by_ref().take(n).collect();
            self.append_many(session_id, mine, ttl).await?;
        }
        Ok(())
    }
    /// The events after `seq`.
    async fn replay_after(&self, session_id: &str, seq: u64) -> Result<Replay>;
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
    fn a_log_batch_keeps_each_sessions_entries_apart_and_in_order() {
        let entry = |s: &str| -> Arc<str> { s.into() };
        let mut batch = LogBatch::with_capacity(3, 4);
        batch.push("a", [(1, entry("a1")), (2, entry("a2"))]);
        batch.push("empty", []);
        batch.push("b", [(7, entry("b7"))]);
        batch.push("a", [(3, entry("a3"))]);
        let seen: Vec<(&str, Vec<u64>)> = batch
            .iter()
            .map(|(id, entries)| (id, entries.iter().map(|(seq, _)| *seq).collect()))
            .collect();
        assert_eq!(seen, [("a", vec![1, 2]), ("b", vec![7]), ("a", vec![3])]);
        let (sessions, entries) = batch.into_parts();
        assert_eq!(sessions, [("a", 2), ("b", 1), ("a", 1)]);
        assert_eq!(&*entries[2].1, "b7");
        assert!(LogBatch::default().is_empty());
    }
}
