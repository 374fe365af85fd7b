//! Sessions and replay logs in memory.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::log::Log;
use crate::Result;
use crate::session::{LogBatch, LogHandle, Replay, SessionRecord, SessionStore, replay_from};

struct Entry {
    record: Option<SessionRecord>,
    /// Sequence numbers and payloads, oldest first, in runs; a payload,
    /// and a run logged for a chunk of sessions, is shared with every
    /// other session that was sent the same.
    log: Log,
    deadline: Instant,
    /// No longer in the map (deleted, swept or replaced): a [`LogHandle`]
    /// to it is stale, and appends find the session by ID.
    removed: bool,
}

impl Entry {
    /// Marks an entry that left the map, and lets its log go (a handle may
    /// keep the entry itself for as long as its connection lasts).
    fn remove(&mut self) {
        self.removed = true;
        self.record = None;
        self.log = Log::default();
    }
}

/// An entry as the map and the [`LogHandle`]s given out for it share it.
/// Its lock is taken under the shard's (by ID) or alone (by handle), never
/// the other way round.
struct Cell {
    /// Which store made it ([`MemorySessions::id`]): a handle from another
    /// store is not used.
    store: u64,
    entry: Mutex<Entry>,
}

impl Cell {
    fn lock(&self) -> MutexGuard<'_, Entry> {
        self.entry.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The sessions by ID. Entries are shared, behind a pointer: a hash table
/// keeps up to twice as many slots as entries, and a slot is 48 bytes (its
/// [`Key`] inline) instead of about 200. Hashed with foldhash rather than
/// SipHash: every logged batch looks its session up under its shard's
/// lock (SipHash over the ID was 6% of the gateway's CPU at 50,000
/// deliveries/s), and session IDs are the server's own random strings, so
/// no client chooses the keys.
type Entries = HashMap<Key, Arc<Cell>, foldhash::fast::RandomState>;

/// The longest session ID kept in its map slot (the gateway's are 32 hex
/// digits, as Discord's are).
const INLINE: usize = 32;

/// A session ID as a map key: in the slot itself up to [`INLINE`] bytes,
/// so that finding a session reads no other memory than its slot before
/// its entry. (With the ID in an allocation of its own, every logged
/// batch's lookup missed the cache once more per session, comparing it.)
/// Longer IDs are kept on the heap. Looked up by the ID's bytes.
enum Key {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl Key {
    fn new(id: &str) -> Self {
        let id = id.as_bytes();
        match u8::try_from(id.len()) {
            Ok(len) if id.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..id.len()].copy_from_slice(id);
                Key::Inline { len, bytes }
            }
            _ => Key::Heap(id.into()),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Key::Heap(bytes) => bytes,
        }
    }
}

// Hash and equality are the ID's bytes', as `Borrow` requires.
impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Key {}

impl std::borrow::Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// Shards of the session map, each under its own lock. Every gateway
/// session appends to its log after each socket write, from every runtime
/// thread; under one lock for all, the two threads of a two-core node spun
/// on it (about 1% of the gateway's CPU at 1 M deliveries/s).
const SHARDS: usize = 16;

/// New entries in a shard between sweeps of its expired entries, so that a
/// session nobody resumes or looks up again is removed by a later sweep
/// rather than kept for the life of the process.
const SWEEP_EVERY: u32 = 64;

/// One shard of the map.
#[derive(Default)]
struct Shard {
    map: Entries,
    /// Entries added since the last sweep.
    inserts: u32,
}

impl Shard {
    /// Adds an entry, sweeping out expired ones every [`SWEEP_EVERY`].
    fn insert(&mut self, id: &str, cell: Arc<Cell>, now: Instant) {
        self.inserts += 1;
        if self.inserts >= SWEEP_EVERY {
            self.inserts = 0;
            self.map.retain(|_, cell| {
                let mut e = cell.lock();
                if e.deadline <= now {
                    e.remove();
                }
                !e.removed
            });
        }
        if let Some(old) = self.map.insert(Key::new(id), cell) {
            old.lock().remove();
        }
    }

    /// Removes an entry.
    fn remove(&mut self, id: &str) {
        if let Some(cell) = self.map.remove(id.as_bytes()) {
            cell.lock().remove();
        }
    }

    /// A session's entry unless it expired (an expired one is removed).
    fn live(&mut self, id: &str) -> Option<&Arc<Cell>> {
        let now = Instant::now();
        if self
            .map
            .get(id.as_bytes())
            .is_some_and(|c| c.lock().deadline <= now)
        {
            self.remove(id);
        }
        self.map.get(id.as_bytes())
    }
}

/// Numbers the stores of the process (see [`Cell::store`]).
static STORES: AtomicU64 = AtomicU64::new(1);

/// Sessions in process memory, each log bounded to `capacity` events.
pub struct MemorySessions {
    capacity: usize,
    /// This store's number, in its entries and so in its handles.
    id: u64,
    /// Appends that found their session by ID.
    #[cfg(test)]
    by_id: AtomicU64,
    /// Picks a session's shard (seeded per process, like the maps).
    hasher: foldhash::fast::RandomState,
    shards: Box<[Mutex<Shard>]>,
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
            id: STORES.fetch_add(1, Ordering::Relaxed),
            #[cfg(test)]
            by_id: AtomicU64::new(0),
            hasher: foldhash::fast::RandomState::default(),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    /// The shard that holds `session_id`, locked.
    fn lock(&self, session_id: &str) -> std::sync::MutexGuard<'_, Shard> {
        self.lock_shard(self.shard_of(session_id))
    }

    /// Which shard holds `session_id`.
    fn shard_of(&self, session_id: &str) -> usize {
        self.hasher.hash_one(session_id) as usize % SHARDS
    }

    fn lock_shard(&self, shard: usize) -> std::sync::MutexGuard<'_, Shard> {
        self.shards[shard].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Entries held, expired or not.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).map.len())
            .sum()
    }

    /// A new entry of this store's.
    fn cell(&self, record: Option<SessionRecord>, deadline: Instant) -> Arc<Cell> {
        Arc::new(Cell {
            store: self.id,
            entry: Mutex::new(Entry {
                record,
                log: Log::default(),
                deadline,
                removed: false,
            }),
        })
    }

    /// Appends one entry under one lock, with one lookup of the session.
    fn append_one(&self, session_id: &str, seq: u64, payload: Arc<str>, ttl: Duration) {
        let mut shard = self.lock(session_id);
        let add = |log: &mut Log| {
            log.push(seq, payload);
            seq
        };
        self.append_locked(&mut shard, session_id, add, Instant::now(), ttl);
    }

    /// Adds to a session's log under its shard's lock, already held: `add`
    /// appends and returns the last sequence number it appended (0: none).
    /// The log then keeps its last `capacity` events.
    fn append_locked(
        &self,
        shard: &mut Shard,
        session_id: &str,
        add: impl FnOnce(&mut Log) -> u64,
        now: Instant,
        ttl: Duration,
    ) {
        #[cfg(test)]
        self.by_id.fetch_add(1, Ordering::Relaxed);
        match shard.map.get(session_id.as_bytes()) {
            Some(cell) => self.append_to(&mut cell.lock(), add, now, ttl),
            None => {
                let cell = self.cell(None, now + ttl);
                self.push_log(&mut cell.lock(), add, now + ttl);
                shard.insert(session_id, cell, now);
            }
        }
    }

    /// Adds to the log of an entry in the map (see
    /// [`append_locked`](Self::append_locked)). An expired entry starts
    /// over, as for a session never seen.
    fn append_to(
        &self,
        entry: &mut Entry,
        add: impl FnOnce(&mut Log) -> u64,
        now: Instant,
        ttl: Duration,
    ) {
        if entry.deadline <= now {
            entry.record = None;
            entry.log = Log::default();
        }
        self.push_log(entry, add, now + ttl);
    }

    /// Appends to a live entry's log, keeping the last `capacity` events.
    fn push_log(&self, entry: &mut Entry, add: impl FnOnce(&mut Log) -> u64, deadline: Instant) {
        let last = add(&mut entry.log);
        entry.log.keep_last(self.capacity);
        if let Some(r) = entry.record.as_mut() {
            r.seq = r.seq.max(last);
        }
        entry.deadline = deadline;
    }

    /// The entry `handle` leads to, if it is one of this store's.
    fn cell_of<'h>(&self, handle: Option<&'h LogHandle>) -> Option<&'h Cell> {
        handle
            .and_then(LogHandle::get::<Cell>)
            .filter(|cell| cell.store == self.id)
    }
}

#[async_trait]
impl SessionStore for MemorySessions {
    async fn save(&self, session: &SessionRecord, ttl: Duration) -> Result<()> {
        let mut shard = self.lock(&session.session_id);
        let now = Instant::now();
        let deadline = now + ttl;
        match shard.live(&session.session_id) {
            Some(cell) => {
                let mut e = cell.lock();
                // The log may be ahead of the saved state: keep the larger seq.
                let seq = e.record.as_ref().map_or(0, |r| r.seq).max(session.seq);
                e.record = Some(SessionRecord {
                    seq,
                    ..session.clone()
                });
                e.deadline = deadline;
            }
            None => {
                let cell = self.cell(Some(session.clone()), deadline);
                shard.insert(&session.session_id, cell, now);
            }
        }
        Ok(())
    }

    async fn get(&self, session_id: &str) -> Result<Option<SessionRecord>> {
        let mut shard = self.lock(session_id);
        Ok(shard.live(session_id).and_then(|c| c.lock().record.clone()))
    }

    async fn delete(&self, session_id: &str) -> Result<()> {
        self.lock(session_id).remove(session_id);
        Ok(())
    }

    async fn append(
        &self,
        session_id: &str,
        seq: u64,
        payload: Arc<str>,
        ttl: Duration,
    ) -> Result<()> {
        self.append_one(session_id, seq, payload, ttl);
        Ok(())
    }

    async fn append_many(
        &self,
        session_id: &str,
        entries: Vec<(u64, Arc<str>)>,
        ttl: Duration,
    ) -> Result<()> {
        let mut entries = entries;
        if entries.len() == 1
            && let Some((seq, payload)) = entries.pop()
        {
            self.append_one(session_id, seq, payload, ttl);
            return Ok(());
        }
        // Several: kept as one run (or one per stretch of consecutive
        // numbers), not an entry each.
        let mut batch = LogBatch::with_capacity(1);
        batch.push(session_id, entries);
        self.append_batch(batch, ttl).await
    }

    /// One clock reading for the batch; each run is kept as it is, one
    /// list for every session that shares it. A session named with a
    /// handle of this store's to an entry still in the map is appended to
    /// through it, without its shard's lock or a lookup.
    async fn append_batch(&self, batch: LogBatch<'_>, ttl: Duration) -> Result<()> {
        let now = Instant::now();
        for (id, handle, first, run) in batch.iter_with_handles() {
            let last = first.saturating_add(run.len() as u64 - 1);
            let add = |log: &mut Log| {
                log.push_shared(first, Arc::clone(run));
                last
            };
            if let Some(cell) = self.cell_of(handle) {
                let mut entry = cell.lock();
                if !entry.removed {
                    self.append_to(&mut entry, add, now, ttl);
                    continue;
                }
            }
            let mut shard = self.lock(id);
            self.append_locked(&mut shard, id, add, now, ttl);
        }
        Ok(())
    }

    fn log_handle(&self, session_id: &str) -> Option<LogHandle> {
        let mut shard = self.lock(session_id);
        shard.live(session_id).cloned().map(LogHandle::new)
    }

    async fn replay_after(&self, session_id: &str, seq: u64) -> Result<Replay> {
        let mut shard = self.lock(session_id);
        let Some(cell) = shard.live(session_id) else {
            return Ok(Replay::UnknownSession);
        };
        let entry = cell.lock();
        if entry.record.is_none() {
            return Ok(Replay::UnknownSession);
        }
        Ok(replay_from(entry.log.iter(), seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record for session `id`, its user and intents numbered `n`.
    fn session(id: &str, n: u64) -> SessionRecord {
        SessionRecord {
            session_id: id.into(),
            user_id: discord_proto::Snowflake::new(1000 + n),
            intents: n,
            shard: [0, 1],
            seq: 0,
            node_id: None,
        }
    }

    /// Logs one event for each of `count` sessions named `prefix-N`.
    async fn add(store: &MemorySessions, prefix: &str, count: usize, payload: &Arc<str>, ttl: u64) {
        for n in 0..count {
            let entries = vec![(1, Arc::clone(payload))];
            let id = format!("{prefix}-{n}");
            let ttl = Duration::from_secs(ttl);
            store.append_many(&id, entries, ttl).await.unwrap();
        }
    }

    /// Sessions that expire and are never looked up again do not stay:
    /// later new sessions sweep them out of their shards.
    #[tokio::test(start_paused = true)]
    async fn expired_sessions_are_swept_out_by_new_ones() {
        let store = MemorySessions::new(8);
        let payload: Arc<str> = "0000000000000001MESSAGE_CREATE {}".into();
        add(&store, "gone", 500, &payload, 1).await;
        assert_eq!(store.len(), 500);
        tokio::time::advance(Duration::from_secs(2)).await;
        // About 125 new sessions per shard: each shard sweeps at least once.
        add(&store, "live", 2000, &payload, 60).await;
        assert_eq!(store.len(), 2000, "only the live sessions are left");
        assert_eq!(
            Arc::strong_count(&payload),
            2001,
            "the expired logs are gone"
        );
    }

    /// IDs of every length, those kept in the slot (up to 32 bytes) and
    /// those kept on the heap, are told apart, including IDs of which one
    /// is the other's start, and multi-byte characters.
    #[tokio::test]
    async fn ids_of_every_length_are_found_and_told_apart() {
        let store = MemorySessions::new(8);
        let ttl = Duration::from_secs(60);
        let ids: Vec<String> = (0..=40)
            .map(|n| "s".repeat(n))
            .chain(["é".repeat(16), "é".repeat(17), "a".repeat(31) + "é"])
            .collect();
        for (n, id) in ids.iter().enumerate() {
            store.save(&session(id, n as u64), ttl).await.unwrap();
        }
        for (n, id) in ids.iter().enumerate() {
            let got = store.get(id).await.unwrap().expect("saved");
            assert_eq!(
                (got.session_id.as_str(), got.intents),
                (id.as_str(), n as u64)
            );
        }
        store.delete(&"s".repeat(32)).await.unwrap();
        store.delete(&"s".repeat(33)).await.unwrap();
        assert_eq!(store.get(&"s".repeat(32)).await.unwrap(), None);
        assert_eq!(store.get(&"s".repeat(33)).await.unwrap(), None);
        assert!(store.get(&"s".repeat(31)).await.unwrap().is_some());
        assert!(store.get(&"s".repeat(34)).await.unwrap().is_some());
        assert_eq!(store.len(), ids.len() - 2);
    }

    /// Many sessions over every shard: each is found by its own ID, gets
    /// its own record and log back, and deleting some leaves the others.
    #[tokio::test]
    async fn every_session_is_found_by_its_own_id() {
        let store = MemorySessions::new(8);
        let ttl = Duration::from_secs(60);
        let record = |n: u64| session(&format!("session-{n:04}"), n);
        for n in 0..2000 {
            store.save(&record(n), ttl).await.unwrap();
            let entries = vec![(1, Arc::<str>::from(format!("event of {n}")))];
            store
                .append_many(&record(n).session_id, entries, ttl)
                .await
                .unwrap();
        }
        assert!(
            store
                .shards
                .iter()
                .all(|s| s.lock().unwrap().map.len() > 50),
            "the sessions are spread over every shard"
        );
        for n in (0..2000).step_by(2) {
            store.delete(&record(n).session_id).await.unwrap();
        }
        for n in 0..2000 {
            let id = record(n).session_id;
            let got = store.get(&id).await.unwrap();
            let replay = store.replay_after(&id, 0).await.unwrap();
            if n % 2 == 0 {
                assert_eq!(got, None, "{id} was deleted");
                assert_eq!(replay, Replay::UnknownSession, "{id}");
            } else {
                let got = got.unwrap_or_else(|| panic!("{id} is missing"));
                assert_eq!((got.session_id.as_str(), got.intents), (id.as_str(), n));
                assert_eq!(got.seq, 1, "{id}: the log's last seq");
                assert_eq!(replay, Replay::Events(vec![(1, format!("event of {n}"))]));
            }
        }
        assert_eq!(store.len(), 1000);
    }

    /// Several events appended together are one run of the log, and
    /// replay as the entries they are.
    #[tokio::test]
    async fn entries_appended_together_are_one_run() {
        let store = MemorySessions::new(8);
        let ttl = Duration::from_secs(60);
        store.save(&session("s", 0), ttl).await.unwrap();
        let entries: Vec<(u64, Arc<str>)> =
            (1..=5).map(|n| (n, Arc::from(format!("e{n}")))).collect();
        store.append_many("s", entries.clone(), ttl).await.unwrap();
        // Not consecutive: a log started afresh at 9.
        store
            .append_many("t", vec![entries[0].clone(), (9, "e9".into())], ttl)
            .await
            .unwrap();
        let runs = |id: &str| store.lock(id).map[id.as_bytes()].lock().log.runs();
        assert_eq!(runs("s"), 1);
        assert_eq!(runs("t"), 1);
        let want: Vec<(u64, String)> = (3..=5).map(|n| (n, format!("e{n}"))).collect();
        assert_eq!(
            store.replay_after("s", 2).await.unwrap(),
            Replay::Events(want)
        );
        assert_eq!(store.get("s").await.unwrap().unwrap().seq, 5);
    }

    /// Appends `first..=last` to `id`'s log in one batch, through `handle`.
    async fn append_via(
        store: &MemorySessions,
        id: &str,
        handle: Option<&LogHandle>,
        first: u64,
        last: u64,
    ) {
        let run: Vec<Arc<str>> = (first..=last).map(|n| format!("e{n}").into()).collect();
        let mut batch = LogBatch::with_capacity(1);
        batch.push_run_to(id, handle, first, run.iter());
        store
            .append_batch(batch, Duration::from_secs(60))
            .await
            .unwrap();
    }

    fn events(first: u64, last: u64) -> Replay {
        Replay::Events((first..=last).map(|n| (n, format!("e{n}"))).collect())
    }

    /// A handle leads to the session's own entry, the one its ID finds,
    /// and is stale once that entry leaves the map.
    #[tokio::test]
    async fn a_handle_is_the_entry_its_id_finds_until_it_leaves() {
        let store = MemorySessions::new(8);
        let ttl = Duration::from_secs(60);
        store.save(&session("s", 0), ttl).await.unwrap();
        let handle = store.log_handle("s").expect("a live session has one");
        let cell = handle.get::<Cell>().unwrap();
        assert!(std::ptr::eq(cell, &*store.lock("s").map[&b"s"[..]]));
        append_via(&store, "s", Some(&handle), 1, 4).await;
        assert_eq!(cell.lock().log.len(), 4);
        assert_eq!(store.by_id.load(Ordering::Relaxed), 0, "not looked up");
        assert_eq!(store.replay_after("s", 0).await.unwrap(), events(1, 4));
        store.delete("s").await.unwrap();
        assert!(cell.lock().removed);
        assert_eq!(cell.lock().log.len(), 0, "its log is let go");
        // Not logged to the removed entry: by ID, as if without a handle.
        append_via(&store, "s", Some(&handle), 5, 5).await;
        assert_eq!(cell.lock().log.len(), 0);
        assert_eq!(store.by_id.load(Ordering::Relaxed), 1);
        assert_eq!(store.get("s").await.unwrap(), None);
        assert_eq!(store.len(), 1, "a log by ID, as without a handle");
    }

    /// A handle another store made is not followed: the batch's session
    /// is found by ID in this store, and the other store's log is left
    /// alone.
    #[tokio::test]
    async fn a_handle_from_another_store_is_not_followed() {
        let (ours, theirs) = (MemorySessions::new(8), MemorySessions::new(8));
        let ttl = Duration::from_secs(60);
        for store in [&ours, &theirs] {
            store.save(&session("s", 0), ttl).await.unwrap();
        }
        let foreign = theirs.log_handle("s");
        append_via(&ours, "s", foreign.as_ref(), 1, 2).await;
        assert_eq!(ours.by_id.load(Ordering::Relaxed), 1, "found by ID");
        assert_eq!(ours.replay_after("s", 0).await.unwrap(), events(1, 2));
        assert_eq!(
            theirs.replay_after("s", 0).await.unwrap(),
            Replay::Events(Vec::new())
        );
    }

    /// An entry that expired but is still in the map starts over when
    /// appended to through a handle, as it does by ID.
    #[tokio::test(start_paused = true)]
    async fn an_expired_entry_starts_over_through_a_handle_as_by_id() {
        let store = MemorySessions::new(8);
        for id in ["by-id", "by-handle"] {
            store
                .save(&session(id, 0), Duration::from_secs(1))
                .await
                .unwrap();
            append_via(&store, id, None, 1, 2).await;
        }
        let handle = store.log_handle("by-handle");
        tokio::time::advance(Duration::from_secs(120)).await;
        append_via(&store, "by-id", None, 3, 3).await;
        append_via(&store, "by-handle", handle.as_ref(), 3, 3).await;
        for id in ["by-id", "by-handle"] {
            let cell = Arc::clone(&store.lock(id).map[id.as_bytes()]);
            let entry = cell.lock();
            assert!(entry.record.is_none(), "{id}: its record expired");
            assert_eq!(entry.log.iter().map(|(s, _)| s).collect::<Vec<_>>(), [3]);
        }
        assert_eq!(
            store.replay_after("by-handle", 2).await.unwrap(),
            Replay::UnknownSession
        );
    }

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
