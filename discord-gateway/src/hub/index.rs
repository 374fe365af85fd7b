//! The hub's index of one node's sessions: by guild (the lists fanout
//! walks), by user, by session ID and by connection.
//!
//! Each connection's record keeps its place in every guild list it is in,
//! so joining or leaving a guild costs the same with ten sessions in the
//! guild as with a hundred thousand (scanning the list made registering N
//! sessions in one guild, and their disconnects, cost N^2 comparisons). A
//! list's order means nothing: a leaving session's place goes to the last
//! one.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use discord_proto::Snowflake;
use discord_proto::gateway::{GatewayGuild, Intents};
use smallvec::SmallVec;

use super::{Fanout, Prepared, SessionHandle};
use crate::view::{GuildView, Seen};
use crate::writer::ChunkEvents;

/// foldhash for maps keyed by IDs the server made or checked.
type Fast = foldhash::fast::RandomState;

/// A guild with sessions on this node.
pub(super) struct GuildEntry {
    /// What permission checks need of the guild.
    pub(super) view: GuildView,
    /// The sessions that receive its events, in no order.
    pub(super) sessions: Vec<Member>,
    /// Runs of events not yet queued for every session, oldest first
    /// (`Hub::deliver_run`); the first is number `base`.
    pub(super) pending: VecDeque<Fanout>,
    pub(super) base: u64,
    /// The length of `pending` past which it is trimmed next.
    trim_at: usize,
    /// Every intent some session of the guild has had here: a run's event
    /// that needs none of them is not kept (a guild with no session asking
    /// for presences keeps no PRESENCE_UPDATE).
    pub(super) intents: Intents,
}

/// Pending runs kept before the slowest session's place is looked for.
pub(super) const TRIM_AT: usize = 64;

impl GuildEntry {
    /// The number of the next pending event.
    fn head(&self) -> u64 {
        self.base + self.pending.len() as u64
    }

    /// Queues the pending events session `at` receives (filtered as
    /// fanout filters); returns whether its task must be woken for them.
    pub(super) fn take_pending(&mut self, at: usize) -> bool {
        self.take_pending_to(at, None)
    }

    /// [`take_pending`](Self::take_pending), or with `out`, appends them
    /// there instead of queueing them (for a session a writer claims:
    /// `Hub::claim_chunk`) and returns `false`.
    pub(super) fn take_pending_to(&mut self, at: usize, out: Option<&mut ChunkEvents>) -> bool {
        let head = self.head();
        let member = &mut self.sessions[at];
        member.flagged = false;
        if member.cursor >= head {
            return false;
        }
        let from = (member.cursor - self.base) as usize;
        member.cursor = head;
        let (view, seen, handle) = (&mut self.view, &mut member.seen, &member.handle);
        let pending = self.pending.range_mut(from..);
        match out {
            Some(out) => {
                share(pending, view, seen, handle, |v| out.push_shared(v));
                false
            }
            // Straight into the session's queue, under its lock: a
            // sweep's share (about 20 events at 1 M deliveries/s)
            // collected first outgrew a list kept on the stack, and was
            // allocated, grown and freed per session and write.
            None => handle.push_with(|queue| {
                share(pending, view, seen, handle, |v| {
                    queue.push_back(Arc::clone(v))
                });
            }),
        }
    }

    /// Drops the pending events every session has taken, once [`TRIM_AT`]
    /// more have come since the last trim: the sessions' places are
    /// scanned once per that many events, not per session served, and at
    /// most that many taken events are kept. A burst's slots are given
    /// back.
    fn trim(&mut self) {
        if self.pending.len() <= self.trim_at {
            return;
        }
        let head = self.head();
        let oldest = self.sessions.iter().map(|m| m.cursor).min().unwrap_or(head);
        let drop = (oldest - self.base) as usize;
        self.pending.drain(..drop);
        self.base = oldest;
        self.trim_at = self.pending.len() + TRIM_AT;
        if self.pending.capacity() > 4 * self.trim_at {
            self.pending.shrink_to(2 * self.trim_at);
        }
    }
}

/// Hands `push` the views of `pending` events that `handle` receives, in
/// order (filtered as fanout filters).
fn share<'p>(
    pending: impl Iterator<Item = &'p mut Fanout>,
    view: &mut GuildView,
    seen: &mut Seen,
    handle: &SessionHandle,
    mut push: impl FnMut(&Arc<Prepared>),
) {
    for fan in pending {
        let visible = |ch| view.can_view_seen(handle.user_id, ch, seen);
        if let Some(v) = fan.view_for(handle, visible) {
            push(v);
        }
    }
}

/// A session in a guild's list.
pub(super) struct Member {
    pub(super) handle: Arc<SessionHandle>,
    /// The number of the next pending event of the guild it has not taken.
    pub(super) cursor: u64,
    /// It is in the pump's wakes for pending events.
    pub(super) flagged: bool,
    /// Whether it may see the channel it was last checked for: a session
    /// receiving one channel's events is looked up in the view's cache
    /// once, not once per event (that lookup, a hash and a cache miss per
    /// recipient, was 4-5% of the server's CPU at 500,000 deliveries/s).
    pub(super) seen: Seen,
}

impl Member {
    fn new(handle: &Arc<SessionHandle>, cursor: u64) -> Self {
        Member {
            handle: Arc::clone(handle),
            cursor,
            flagged: false,
            seen: Seen::default(),
        }
    }
}

/// The guilds a connection receives events of, and its index in each
/// one's `sessions` (inline for a session in one guild). Kept in the
/// connection's handle ([`SessionHandle::places`]), not in a map by
/// connection: the pump finds them for every session it serves, and the
/// map's lookup was a cache miss per session and write (two thirds of
/// `take_pending`'s samples at 1 M deliveries/s).
pub(crate) type Places = SmallVec<[(Snowflake, usize); 1]>;

#[derive(Default)]
pub(super) struct State {
    pub(super) guilds: HashMap<Snowflake, GuildEntry, Fast>,
    /// A user's connections here (inline for one).
    users: HashMap<Snowflake, SmallVec<[Arc<SessionHandle>; 1]>, Fast>,
    /// Session ID -> the connection serving it on this node.
    owners: HashMap<String, Arc<SessionHandle>>,
    /// Every connection, by ID; each keeps its places in its handle,
    /// changed only under the hub's lock.
    all: HashMap<u64, Arc<SessionHandle>, Fast>,
}

impl State {
    /// Queues the pending runs of every guild `handle` is in (see
    /// `GuildEntry::take_pending`), and trims those guilds' pending lists;
    /// returns whether its task must be woken for them.
    pub(super) fn take_pending(&mut self, handle: &SessionHandle) -> bool {
        self.take_pending_to(handle, None)
    }

    /// [`take_pending`](Self::take_pending), appending to `out` instead
    /// of queueing if it is given (see `GuildEntry::take_pending_to`).
    pub(super) fn take_pending_to(
        &mut self,
        handle: &SessionHandle,
        mut out: Option<&mut ChunkEvents>,
    ) -> bool {
        let mut wake = false;
        for (guild, at) in handle.places().iter() {
            if let Some(entry) = self.guilds.get_mut(guild) {
                wake |= entry.take_pending_to(*at, out.as_deref_mut());
                entry.trim();
            }
        }
        wake
    }

    /// Adds a connection, in no guild yet; `true` if it is its user's
    /// first here (the user's topic is needed).
    pub(super) fn add(&mut self, handle: &Arc<SessionHandle>) -> bool {
        handle.places().clear();
        self.all.insert(handle.conn, Arc::clone(handle));
        let user = self.users.entry(handle.user_id).or_default();
        user.push(Arc::clone(handle));
        user.len() == 1
    }

    /// Removes a connection from the index. Returns its handle, whether
    /// it was its user's last connection here, and the guilds left with no
    /// session here.
    pub(super) fn remove(
        &mut self,
        conn: u64,
    ) -> Option<(Arc<SessionHandle>, bool, Vec<Snowflake>)> {
        let places = self.all.get(&conn)?.places().clone();
        let mut emptied = Vec::new();
        for (guild, _) in places {
            if self.leave(conn, guild) {
                emptied.push(guild);
            }
        }
        let handle = self.all.remove(&conn)?;
        if self
            .owners
            .get(&handle.session_id)
            .is_some_and(|h| h.conn == conn)
        {
            self.owners.remove(&handle.session_id);
        }
        let mut last = false;
        if let Some(list) = self.users.get_mut(&handle.user_id) {
            list.retain(|h| h.conn != conn);
            if list.is_empty() {
                self.users.remove(&handle.user_id);
                last = true;
            }
        }
        Some((handle, last, emptied))
    }

    /// Adds a connection to a guild's list (making the guild's entry from
    /// `guild` if it has none); `true` if the entry is new (its topic is
    /// needed).
    pub(super) fn join(&mut self, handle: &Arc<SessionHandle>, guild: &GatewayGuild) -> bool {
        let id = guild.guild.id;
        let mut created = false;
        let entry = self.guilds.entry(id).or_insert_with(|| {
            created = true;
            GuildEntry {
                view: GuildView::new(guild),
                sessions: Vec::new(),
                pending: VecDeque::new(),
                base: 0,
                trim_at: TRIM_AT,
                intents: Intents::empty(),
            }
        });
        if !entry.view.is_member(handle.user_id) {
            let roles = guild
                .members
                .iter()
                .find(|m| m.user.as_ref().is_some_and(|u| u.id == handle.user_id))
                .map(|m| m.roles.clone())
                .unwrap_or_default();
            entry.view.set_member(handle.user_id, roles);
        }
        let mut places = handle.places();
        if self.all.contains_key(&handle.conn) && !places.iter().any(|(g, _)| *g == id) {
            places.push((id, entry.sessions.len()));
            entry.intents |= handle.intents;
            // Events pending from before it joined are not its own.
            let head = entry.head();
            entry.sessions.push(Member::new(handle, head));
        }
        created
    }

    /// Takes a connection out of a guild's list; `true` if that left the
    /// guild with no session here (its entry is then gone).
    pub(super) fn leave(&mut self, conn: u64, guild: Snowflake) -> bool {
        let Some(handle) = self.all.get(&conn) else {
            return false;
        };
        let mut places = handle.places();
        let Some(i) = places.iter().position(|(g, _)| *g == guild) else {
            return false;
        };
        let (_, at) = places.swap_remove(i);
        drop(places);
        let Some(entry) = self.guilds.get_mut(&guild) else {
            return false;
        };
        // What came while it was in the guild is still its own.
        if entry.take_pending(at) {
            entry.sessions[at].handle.wake();
        }
        entry.sessions.swap_remove(at);
        if let Some(moved) = entry.sessions.get(at)
            && let Some(place) = moved.handle.places().iter_mut().find(|(g, _)| *g == guild)
        {
            place.1 = at;
        }
        if entry.sessions.is_empty() {
            self.guilds.remove(&guild);
            return true;
        }
        false
    }

    /// Takes the sessions `pick` chooses out of a guild's list; `true` if
    /// that left the guild with none.
    pub(super) fn leave_where(
        &mut self,
        guild: Snowflake,
        pick: impl Fn(&SessionHandle) -> bool,
    ) -> bool {
        let Some(entry) = self.guilds.get(&guild) else {
            return false;
        };
        let picked: Vec<u64> = entry
            .sessions
            .iter()
            .filter(|m| pick(&m.handle))
            .map(|m| m.handle.conn)
            .collect();
        let mut emptied = false;
        for conn in picked {
            emptied |= self.leave(conn, guild);
        }
        emptied
    }

    /// The guilds a connection receives events of.
    pub(super) fn guilds_of(&self, conn: u64) -> Vec<Snowflake> {
        self.all
            .get(&conn)
            .map(|h| h.places().iter().map(|(g, _)| *g).collect())
            .unwrap_or_default()
    }

    /// Whether a connection receives events of `guild`.
    pub(super) fn in_guild(&self, conn: u64, guild: Snowflake) -> bool {
        self.all
            .get(&conn)
            .is_some_and(|h| h.places().iter().any(|(g, _)| *g == guild))
    }

    /// Every connection.
    pub(super) fn handles(&self) -> Vec<Arc<SessionHandle>> {
        self.all.values().map(Arc::clone).collect()
    }

    /// A user's connections.
    pub(super) fn user_sessions(&self, user: Snowflake) -> Vec<Arc<SessionHandle>> {
        self.users
            .get(&user)
            .map(|l| l.to_vec())
            .unwrap_or_default()
    }

    /// Makes `handle` the connection serving its session; returns the one
    /// it replaces.
    pub(super) fn set_owner(&mut self, handle: &Arc<SessionHandle>) -> Option<Arc<SessionHandle>> {
        self.owners
            .insert(handle.session_id.clone(), Arc::clone(handle))
            .filter(|old| old.conn != handle.conn)
    }

    /// The connection serving `session_id`.
    pub(super) fn owner(&self, session_id: &str) -> Option<Arc<SessionHandle>> {
        self.owners.get(session_id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use discord_proto::gateway::Intents;

    use super::*;

    fn handle(conn: u64, user: u64) -> Arc<SessionHandle> {
        Arc::new(SessionHandle::new(
            conn,
            format!("s{conn}"),
            Snowflake::new(user),
            Intents::empty(),
            None,
            8,
        ))
    }

    /// Every recorded place points at its session, and every listed
    /// session has its place recorded.
    fn assert_consistent(state: &State) {
        for (id, entry) in &state.guilds {
            for (i, m) in entry.sessions.iter().enumerate() {
                assert!(state.all.contains_key(&m.handle.conn));
                let places = m.handle.places();
                assert!(places.contains(&(*id, i)), "{} at {i}", m.handle.conn);
            }
        }
        for (conn, h) in &state.all {
            for (g, at) in h.places().iter() {
                assert_eq!(state.guilds[g].sessions[*at].handle.conn, *conn);
            }
        }
    }

    #[test]
    fn places_stay_true_through_joins_and_leaves() {
        let guild = crate::view::tests::guild();
        let gid = guild.guild.id;
        let mut state = State::default();
        let handles: Vec<_> = (0..10).map(|c| handle(c, c % 3)).collect();
        for (i, h) in handles.iter().enumerate() {
            assert_eq!(state.add(h), i < 3, "first connection of each user");
            assert_eq!(state.join(h, &guild), i == 0, "entry made once");
        }
        assert!(!state.join(&handles[4], &guild), "joining twice");
        assert_eq!(state.guilds[&gid].sessions.len(), 10);
        assert_consistent(&state);
        assert!(!state.leave(0, gid), "the first leaves; the last moves");
        assert!(!state.leave(0, gid), "already gone");
        assert!(!state.in_guild(0, gid) && state.in_guild(9, gid));
        assert_consistent(&state);
        assert!(!state.leave_where(gid, |h| h.user_id == Snowflake::new(1)));
        assert_consistent(&state);
        let (_, last, emptied) = state.remove(2).unwrap();
        assert!(!last, "user 2 still has connection 5");
        assert!(emptied.is_empty());
        assert_consistent(&state);
        let left: Vec<u64> = state.guilds[&gid]
            .sessions
            .iter()
            .map(|m| m.handle.conn)
            .collect();
        for conn in &left {
            state.remove(*conn);
        }
        assert!(state.guilds.is_empty(), "the last leaver removes the entry");
        assert_eq!(state.guilds_of(0), []);
        assert!(
            state.user_sessions(Snowflake::new(0)).len() == 1,
            "conn 0 only left the guild"
        );
    }
}
