//! [`SessionStore`] on Redis: a hash per session (`record`, and `seq` as
//! last saved), a list per session of `"<seq> <key>"` entries trimmed to
//! the bound, and each logged payload once under its key, 16 characters
//! of its SHA-256 (`p:<key>`).
//!
//! Every recipient of an event logs the same payload: keeping it once
//! rather than in every session's list is what lets Redis keep up with a
//! busy guild (docs/benchmarks.md: one `RPUSH` of a 24-byte entry per
//! event and session, not of the whole payload through a script). A
//! payload expires `ttl` after it was last logged for anyone, a session's
//! list and record `ttl` after its last save or renewing append: what a
//! resume needs was logged within the resume window. A replay that finds
//! a payload gone answers [`Replay::Gap`], never a shorter replay.
//!
//! Most appends are that one `RPUSH` per session and nothing else: an
//! append trims the list and renews the expiry of the list and record
//! only when it holds one of the session's first [`RENEW_EVERY`] numbers
//! (so a list is never without an expiry for long, whoever made it) or
//! a multiple of it. Between trims a list holds up to `RENEW_EVERY - 1`
//! entries beyond the bound, which replays do not read.
//!
//! Entries written by earlier versions (`"<seq>\n<payload>"`, the payload
//! inline) are still read.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use redis::{AsyncCommands, Script};
use sha2::{Digest, Sha256};

use super::{RedisStore, map_err};
use crate::session::{LogBatch, Replay, SessionRecord, SessionStore, replay_from};
use crate::{Result, StoreError};

/// KEYS: session hash, log list. ARGV: record json, seq, ttl ms.
static SAVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('HSET', KEYS[1], 'record', ARGV[1])
local cur = tonumber(redis.call('HGET', KEYS[1], 'seq') or '-1')
if tonumber(ARGV[2]) > cur then redis.call('HSET', KEYS[1], 'seq', ARGV[2]) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
",
    )
});

/// Log entries a replay reads first, from the end: enough for a client
/// that resumes after a drain or a short drop; more take a second read.
const REPLAY_TAIL: isize = 64;

/// Sequence numbers between the appends that trim a session's list and
/// renew its expiry and its record's (each of those is three commands
/// more than the push: together, at ten events per write, about as much
/// of Redis's time as the pushes themselves).
const RENEW_EVERY: u64 = 64;

/// Whether an append of `len` entries numbered from `first` trims and
/// renews: one of the session's first [`RENEW_EVERY`] numbers (its list
/// may be new) or a multiple of it.
fn renews(first: u64, len: usize) -> bool {
    let last = first.saturating_add(len as u64).saturating_sub(1);
    first < RENEW_EVERY || first.div_ceil(RENEW_EVERY) <= last / RENEW_EVERY
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// The key a payload is kept under: the first 12 bytes of its SHA-256 in
/// unpadded URL-safe base64 (16 characters), the same for the same payload
/// on every node. Every session's list holds one per event, so it is kept
/// short; 96 bits leave no practical chance of two payloads alive at once
/// sharing a key.
fn payload_key(payload: &str) -> String {
    let digest = Sha256::digest(payload.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..12])
}

/// A log entry as stored: its payload's key, or (written by an earlier
/// version) the payload itself.
enum Stored {
    Key(String),
    Inline(String),
}

/// Reads a list entry: `"<seq> <key>"`, or the older `"<seq>\n<payload>"`.
fn parse_entry(entry: String) -> Result<(u64, Stored)> {
    let malformed = || StoreError::Backend("malformed replay log entry".into());
    let (seq, stored) = match entry.find(['\n', ' ']) {
        Some(at) if entry.as_bytes()[at] == b'\n' => {
            (&entry[..at], Stored::Inline(entry[at + 1..].to_owned()))
        }
        Some(at) if at + 1 < entry.len() => (&entry[..at], Stored::Key(entry[at + 1..].to_owned())),
        _ => return Err(malformed()),
    };
    Ok((seq.parse().map_err(|_| malformed())?, stored))
}

/// Reads a session's list entries for a replay; `None` (with a warning)
/// if one is malformed.
fn parse_log(entries: Vec<String>) -> Option<Vec<(u64, Stored)>> {
    entries
        .into_iter()
        .map(parse_entry)
        .collect::<Result<Vec<_>>>()
        .inspect_err(|e| tracing::warn!("replay log unreadable: {e}"))
        .ok()
}

impl RedisStore {
    fn session_keys(&self, id: &str) -> (String, String) {
        (
            self.key(&format!("session:{id}")),
            self.key(&format!("session:{id}:log")),
        )
    }

    /// Queues on `pipe` what logging `run` (numbered from `first`) for one
    /// session takes.
    /// Each payload not yet in `keys` is stored once: `keys` is shared by
    /// the sessions of one pipeline and keyed by the payload's address,
    /// which the caller's entries keep alive. Then the session's entries
    /// are pushed and, if the append [`renews`], its list is trimmed to
    /// the bound and its list and record are kept for `ttl` more.
    fn log_entries(
        &self,
        pipe: &mut redis::Pipeline,
        keys: &mut HashMap<usize, String>,
        session_id: &str,
        first: u64,
        run: &[Arc<str>],
        ttl: u64,
    ) {
        let mut push = redis::cmd("RPUSH");
        let (hash, log) = self.session_keys(session_id);
        push.arg(&log);
        for (seq, payload) in (first..).zip(run) {
            let key = keys.entry(payload.as_ptr().addr()).or_insert_with(|| {
                let key = payload_key(payload);
                pipe.cmd("SET")
                    .arg(self.key(&format!("p:{key}")))
                    .arg(&**payload)
                    .arg("PX")
                    .arg(ttl)
                    .ignore();
                key
            });
            push.arg(format!("{seq} {key}"));
        }
        pipe.add_command(push).ignore();
        if renews(first, run.len()) {
            pipe.cmd("LTRIM")
                .arg(&log)
                .arg(-self.bound())
                .arg(-1)
                .ignore();
            pipe.cmd("PEXPIRE").arg(&log).arg(ttl).ignore();
            pipe.cmd("PEXPIRE").arg(&hash).arg(ttl).ignore();
        }
    }

    /// The log's bound, as a list index.
    fn bound(&self) -> isize {
        isize::try_from(self.capacity).unwrap_or(isize::MAX)
    }

    /// Logs each session's runs with one pipeline.
    async fn log_pipeline(&self, batch: &LogBatch<'_>, ttl: Duration) -> Result<()> {
        let ttl = ttl_ms(ttl);
        let mut pipe = redis::pipe();
        let mut keys = HashMap::new();
        for (session_id, first, run) in batch.iter() {
            self.log_entries(&mut pipe, &mut keys, session_id, first, run, ttl);
        }
        if keys.is_empty() {
            return Ok(());
        }
        drop(keys);
        let () = pipe
            .query_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn save(&self, session: &SessionRecord, ttl: Duration) -> Result<()> {
        let (hash, log) = self.session_keys(&session.session_id);
        let _: i64 = SAVE
            .key(hash)
            .key(log)
            .arg(serde_json::to_string(session)?)
            .arg(session.seq)
            .arg(ttl_ms(ttl))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// The record, with `seq` the highest of the saved one and the last
    /// logged.
    async fn get(&self, session_id: &str) -> Result<Option<SessionRecord>> {
        let (hash, log) = self.session_keys(session_id);
        let ((record, seq), last): ((Option<String>, Option<u64>), Option<String>) = redis::pipe()
            .cmd("HMGET")
            .arg(&hash)
            .arg("record")
            .arg("seq")
            .cmd("LINDEX")
            .arg(&log)
            .arg(-1)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        let Some(record) = record else {
            return Ok(None);
        };
        let mut record: SessionRecord = serde_json::from_str(&record)?;
        // (A malformed last entry leaves the saved number; a replay over
        // it is a gap.)
        let logged = last
            .and_then(|entry| {
                parse_entry(entry)
                    .inspect_err(|e| tracing::warn!("replay log unreadable: {e}"))
                    .ok()
            })
            .map_or(0, |(seq, _)| seq);
        record.seq = record.seq.max(seq.unwrap_or(0)).max(logged);
        Ok(Some(record))
    }

    async fn delete(&self, session_id: &str) -> Result<()> {
        let (hash, log) = self.session_keys(session_id);
        let _: i64 = self.conn.clone().del(&[hash, log]).await.map_err(map_err)?;
        Ok(())
    }

    async fn append(
        &self,
        session_id: &str,
        seq: u64,
        payload: Arc<str>,
        ttl: Duration,
    ) -> Result<()> {
        let mut batch = LogBatch::with_capacity(1);
        batch.push_run(session_id, seq, std::iter::once(&payload));
        self.log_pipeline(&batch, ttl).await
    }

    async fn append_many(
        &self,
        session_id: &str,
        entries: Vec<(u64, Arc<str>)>,
        ttl: Duration,
    ) -> Result<()> {
        let mut batch = LogBatch::with_capacity(1);
        batch.push(session_id, entries);
        self.log_pipeline(&batch, ttl).await
    }

    /// One pipeline for the whole batch, each payload stored once in it.
    async fn append_batch(&self, batch: LogBatch<'_>, ttl: Duration) -> Result<()> {
        self.log_pipeline(&batch, ttl).await
    }

    async fn replay_after(&self, session_id: &str, seq: u64) -> Result<Replay> {
        let (hash, log_key) = self.session_keys(session_id);
        // The log's tail first: a client resuming after a drain or a short
        // drop misses a few events, and a whole log is 1,000 entries.
        // Only the last `bound` entries count: the list may hold more
        // until its next trim.
        let bound = self.bound();
        let tail = REPLAY_TAIL.min(bound);
        let (exists, entries): (bool, Vec<String>) = redis::pipe()
            .atomic()
            .hexists(&hash, "record")
            .lrange(&log_key, -tail, -1)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        if !exists {
            return Ok(Replay::UnknownSession);
        }
        // A log that cannot be read cannot be replayed: a gap, so that the
        // client identifies again, rather than an error, which a gateway
        // answers as a failure worth retrying.
        let Some(mut log) = parse_log(entries) else {
            return Ok(Replay::Gap);
        };
        let tail_enough = tail == bound
            || log.len() < tail.unsigned_abs()
            || log.first().is_some_and(|(first, _)| *first <= seq + 1);
        if !tail_enough {
            let entries: Vec<String> = self
                .conn
                .clone()
                .lrange(&log_key, -bound, -1)
                .await
                .map_err(map_err)?;
            let Some(whole) = parse_log(entries) else {
                return Ok(Replay::Gap);
            };
            log = whole;
        }
        let events = match replay_from(log.iter().map(|(s, _)| (*s, "")), seq) {
            Replay::Events(events) => events,
            other => return Ok(other),
        };
        // The entries to replay are the log's last ones.
        let wanted = &log[log.len() - events.len()..];
        let keys: Vec<String> = wanted
            .iter()
            .filter_map(|(_, stored)| match stored {
                Stored::Key(key) => Some(self.key(&format!("p:{key}"))),
                Stored::Inline(_) => None,
            })
            .collect();
        let mut found: std::vec::IntoIter<Option<String>> = if keys.is_empty() {
            Vec::new().into_iter()
        } else {
            let payloads: Vec<Option<String>> = redis::cmd("MGET")
                .arg(&keys)
                .query_async(&mut self.conn.clone())
                .await
                .map_err(map_err)?;
            payloads.into_iter()
        };
        let mut events = Vec::with_capacity(wanted.len());
        for (s, stored) in wanted {
            let payload = match stored {
                Stored::Inline(payload) => payload.clone(),
                // A payload that expired: the log cannot be replayed.
                Stored::Key(_) => match found.next().flatten() {
                    Some(payload) => payload,
                    None => return Ok(Replay::Gap),
                },
            };
            events.push((*s, payload));
        }
        Ok(Replay::Events(events))
    }
}

#[cfg(test)]
mod tests {
    use super::{RENEW_EVERY, Stored, parse_entry, renews};

    /// A run renews when any of its numbers is one of the first
    /// [`RENEW_EVERY`] or a multiple of it.
    #[test]
    fn a_run_renews_when_one_of_its_numbers_would() {
        let one = |seq: u64| seq < RENEW_EVERY || seq.is_multiple_of(RENEW_EVERY);
        for first in [0, 1, 5, 63, 64, 65, 100, 127, 128, 129, 1000, 6399] {
            for len in 1..=130 {
                let any = (first..first + len as u64).any(one);
                assert_eq!(renews(first, len), any, "{first} + {len}");
            }
        }
        assert!(!renews(65, 63) && renews(65, 64));
        assert!(!renews(u64::MAX - 2, 2), "no overflow");
    }

    #[test]
    fn entries_hold_a_key_or_an_inline_payload() {
        let Ok((7, Stored::Key(key))) = parse_entry("7 abc".into()) else {
            panic!("a keyed entry");
        };
        assert_eq!(key, "abc");
        let Ok((8, Stored::Inline(payload))) = parse_entry("8\n{\"a\": 1} b".into()) else {
            panic!("an inline entry");
        };
        assert_eq!(payload, "{\"a\": 1} b");
    }

    #[test]
    fn malformed_entries_are_errors_not_panics() {
        for entry in [
            "5",
            "5 ",
            "",
            "x a",
            " a",
            "-1 a",
            "99999999999999999999 a",
            "\n{}",
        ] {
            let read = parse_entry(entry.into());
            assert!(
                read.as_ref()
                    .is_err_and(|e| e.to_string().contains("malformed")),
                "{entry:?}: {:?}",
                read.map(|(seq, _)| seq)
            );
        }
    }
}
