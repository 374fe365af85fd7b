//! Sessions and replay logs in memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::log::Log;
use crate::Result;
use crate::session::{Replay, SessionRecord, SessionStore, replay_from};

struct Entry {
    record: Option<SessionRecord>,
    /// Sequence numbers and payloads, oldest first; a payload is shared
    /// with every other session that was sent the same event.
    log: Log,
    deadline: Instant,
}

/// The sessions by ID. Entries are boxed: a hash table keeps up to twice
/// as many slots as entries, and a slot of a boxed entry is 24 bytes
/// instead of about 150. Hashed with foldhash rather than SipHash: every
/// logged batch looks its session up under the one lock (SipHash over the
/// ID was 6% of the gateway's CPU at 50,000 deliveries/s), and session IDs
/// are the server's own random strings, so no client chooses the keys.
type Entries = HashMap<Box<str>, Box<Entry>, foldhash::fast::RandomState>;

/// Sessions in process memory, each log bounded to `capacity` events.
pub struct MemorySessions {
    capacity: usize,
    entries: Mutex<Entries>,
}

impl std::fmt::Debug for MemorySessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySessions")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl MemorySessions {
    /// Sessions whose logs keep the last `capacity` events.
    pub fn new(capacity: usize) -> Self {
        MemorySessions {
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends under one lock, with one lookup of the session (this runs
    /// for every batch of events a gateway session sends).
    fn append_entries(
        &self,
        session_id: &str,
        entries: impl Iterator<Item = (u64, Arc<str>)>,
        ttl: Duration,
    ) {
        let mut map = self.lock();
        let now = Instant::now();
        let deadline = now + ttl;
        match map.get_mut(session_id) {
            Some(entry) => {
                if entry.deadline <= now {
                    // Expired: start over, as for a session never seen.
                    entry.record = None;
                    entry.log = Log::default();
                }
                self.push_log(entry, entries, deadline);
            }
            None => {
                let mut entry = Box::new(Entry {
                    record: None,
                    log: Log::default(),
                    deadline,
                });
                self.push_log(&mut entry, entries, deadline);
                map.insert(session_id.into(), entry);
            }
        }
    }

    /// Appends to a live entry's log, keeping the last `capacity` events.
    fn push_log(
        &self,
        entry: &mut Entry,
        entries: impl Iterator<Item = (u64, Arc<str>)>,
        deadline: Instant,
    ) {
        let mut last = 0;
        for (seq, payload) in entries {
            entry.log.push(seq, payload);
            last = last.max(seq);
        }
        entry.log.keep_last(self.capacity);
        if let Some(r) = entry.record.as_mut() {
            r.seq = r.seq.max(last);
        }
        entry.deadline = deadline;
    }

    fn live<'a>(map: &'a mut Entries, id: &str) -> Option<&'a mut Entry> {
        let now = Instant::now();
        if map.get(id).is_some_and(|e| e.deadline <= now) {
            map.remove(id);
        }
        map.get_mut(id).map(|e| &mut **e)
    }
}

#[async_trait]
impl SessionStore for MemorySessions {
    async fn save(&self, session: &SessionRecord, ttl: Duration) -> Result<()> {
        let mut map = self.lock();
        let deadline = Instant::now() + ttl;
        match Self::live(&mut map, &session.session_id) {
            Some(e) => {
                // The log may be ahead of the saved state: keep the larger seq.
                let seq = e.record.as_ref().map_or(0, |r| r.seq).max(session.seq);
                e.record = Some(SessionRecord {
                    seq,
                    ..session.clone()
                });
                e.deadline = deadline;
            }
            None => {
                map.insert(
                    session.session_id.as_str().into(),
                    Box::new(Entry {
                        record: Some(session.clone()),
                        log: Log::default(),
                        deadline,
                    }),
                );
            }
        }
        Ok(())
    }

    async fn get(&self, session_id: &str) -> Result<Option<SessionRecord>> {
        let mut map = self.lock();
        Ok(Self::live(&mut map, session_id).and_then(|e| e.record.clone()))
    }

    async fn delete(&self, session_id: &str) -> Result<()> {
        self.lock().remove(session_id);
        Ok(())
    }

    async fn append(
        &self,
        session_id: &str,
        seq: u64,
        payload: Arc<str>,
        ttl: Duration,
    ) -> Result<()> {
        self.append_entries(session_id, std::iter::once((seq, payload)), ttl);
        Ok(())
    }

    async fn append_many(
        &self,
        session_id: &str,
        entries: Vec<(u64, Arc<str>)>,
        ttl: Duration,
    ) -> Result<()> {
        self.append_entries(session_id, entries.into_iter(), ttl);
        Ok(())
    }

    async fn replay_after(&self, session_id: &str, seq: u64) -> Result<Replay> {
        let mut map = self.lock();
        let Some(entry) = Self::live(&mut map, session_id) else {
            return Ok(Replay::UnknownSession);
        };
        if entry.record.is_none() {
            return Ok(Replay::UnknownSession);
        }
        Ok(replay_from(entry.log.iter(), seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One event logged by many sessions is kept once, not once per
    /// session: the logs hold the same shared payload.
    #[tokio::test]
    async fn logs_share_one_payload_between_sessions() {
        let store = MemorySessions::new(8);
        let ttl = Duration::from_secs(60);
        let payload: Arc<str> = "0000000000000001MESSAGE_CREATE {}".into();
        for session in ["a", "b", "c"] {
            store
                .append_many(session, vec![(1, Arc::clone(&payload))], ttl)
                .await
                .unwrap();
        }
        assert_eq!(Arc::strong_count(&payload), 4, "three logs and ours");
        store.delete("a").await.unwrap();
        assert_eq!(Arc::strong_count(&payload), 3);
    }
}
