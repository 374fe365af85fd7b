//! One node's index of its sessions, and fanout: an event arriving from
//! pub/sub is filtered (shard, intents, VIEW_CHANNEL, MESSAGE_CONTENT) and
//! handed to each recipient's bounded queue. Event data is shared by all
//! recipients (one `Arc` per view of the event), never re-serialized per
//! session.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use discord_proto::Snowflake;
use discord_proto::gateway::{DispatchEvent, GatewayGuild, Intents};
use discord_store::{LogHandle, SessionStore, Topic};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::event::Event;
use crate::view::GuildView;

/// An event ready to frame, shared by every session that receives this
/// view of it: its replay-log entry (see [`logged`](crate::logged)), which
/// holds the name and data; sessions log the entry itself and write the
/// data from it.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// The event's ID (for de-duplication across a hand-over).
    pub id: u64,
    entry: Arc<str>,
    /// Where the name ends in `entry` (the data starts one byte later).
    name_end: usize,
    /// What each of its frames ends with after the sequence number.
    tail: crate::frame::NameTail,
    /// When fanout prepared it.
    #[cfg(feature = "fanout-timing")]
    pub prepared_at: std::time::Instant,
}

impl Prepared {
    pub(crate) fn new(id: u64, name: &str, data: &str) -> Self {
        Prepared {
            id,
            entry: crate::logged::dispatch(id, name, data).into(),
            name_end: crate::logged::data_offset(name) - 1,
            tail: crate::frame::NameTail::new(name),
            #[cfg(feature = "fanout-timing")]
            prepared_at: std::time::Instant::now(),
        }
    }

    /// `t`.
    pub(crate) fn name(&self) -> &str {
        &self.entry[crate::logged::ID_DIGITS..self.name_end]
    }

    /// `d`, as JSON: the rest of the entry after the name and a space.
    pub(crate) fn data(&self) -> &str {
        &self.entry[self.name_end + 1..]
    }

    /// [`data`](Self::data) as bytes, for the writers: cut without
    /// reading the text (a `str` cut checks that it falls between
    /// characters, a load of the byte there per frame; the name's end is
    /// an ASCII space the entry was made with).
    pub(crate) fn data_bytes(&self) -> &[u8] {
        &self.entry.as_bytes()[self.name_end + 1..]
    }

    /// The length of [`data`](Self::data), from the lengths alone.
    pub(crate) fn data_len(&self) -> usize {
        self.entry.len() - (self.name_end + 1)
    }

    /// The replay-log entry.
    pub(crate) fn entry(&self) -> &Arc<str> {
        &self.entry
    }

    /// What its frames end with after the sequence number.
    pub(crate) fn tail(&self) -> &crate::frame::NameTail {
        &self.tail
    }
}

/// Queue slots a drained event queue is given back down to (a few events
/// arrive together often).
const IDLE_QUEUE_CAPACITY: usize = 8;

/// Queue slots a drained queue keeps as they are: a busy session's queue
/// drains and refills with every write, and giving back its slots each
/// time cost two reallocations per write. Only a larger burst's slots are
/// given back, down to [`IDLE_QUEUE_CAPACITY`].
const KEPT_QUEUE_CAPACITY: usize = 64;

/// What a session task is told besides events.
#[derive(Debug)]
pub(crate) enum Control {
    /// The outbound queue overflowed: close the socket (resumably).
    Overflow,
    /// Another connection resumes this session: stop and answer.
    Release(ReleaseReply),
    /// The node is shutting down: send op 7 and let the client resume
    /// elsewhere.
    Reconnect,
}

/// What a session task is told next.
#[derive(Debug)]
pub(crate) enum Input {
    Control(Control),
    Event(Arc<Prepared>),
}

/// Whom to tell that a session was released.
#[derive(Debug)]
pub(crate) enum ReleaseReply {
    /// A connection on this node.
    Local(oneshot::Sender<()>),
    /// A node, over pub/sub.
    Remote(String),
}

/// A connection's registration in the hub.
#[derive(Debug)]
pub(crate) struct SessionHandle {
    pub conn: u64,
    pub session_id: String,
    pub user_id: Snowflake,
    pub intents: Intents,
    pub shard: Option<[u32; 2]>,
    /// Events waiting for the session task, oldest first (a queue in the
    /// handle rather than a channel: no allocation while the queue is
    /// empty, about 500 bytes less per idle session).
    events: Mutex<VecDeque<Arc<Prepared>>>,
    /// Queued events beyond which the session has overflowed.
    capacity: usize,
    /// Control messages, read by the session task before events.
    controls: Mutex<VecDeque<Control>>,
    /// Wakes the session task for an event or a control message (one
    /// `Notify` for both: an idle task waits on one `Notified`, not two),
    /// or when a writer gives its socket back.
    pub(crate) ready: Notify,
    /// Set once the queue reached `capacity`: the session is told to
    /// close (once); events still queue, in order, for its replay log.
    overflowed: AtomicBool,
    /// Who writes the socket: the task, or the writers while the
    /// task waits (`crate::writer`).
    pub(crate) slot: Mutex<crate::writer::Slot>,
    /// Where the connection is in the hub's guild lists; changed only
    /// under the hub's lock, so this lock is never contended.
    places: Mutex<index::Places>,
    /// The session's replay log as the store gave it at the writers' first
    /// batch for it (`None`: the store finds it by ID), so that their
    /// batches name it without a lookup ([`LogHandle`]).
    log: OnceLock<Option<LogHandle>>,
}

impl SessionHandle {
    pub(crate) fn new(
        conn: u64,
        session_id: String,
        user_id: Snowflake,
        intents: Intents,
        shard: Option<[u32; 2]>,
        capacity: usize,
    ) -> Self {
        SessionHandle {
            conn,
            session_id,
            user_id,
            intents,
            shard,
            events: Mutex::new(VecDeque::new()),
            capacity,
            controls: Mutex::new(VecDeque::new()),
            ready: Notify::new(),
            overflowed: AtomicBool::new(false),
            slot: Mutex::new(crate::writer::Slot::new()),
            places: Mutex::new(index::Places::new()),
            log: OnceLock::new(),
        }
    }

    /// The session's log handle in `store`, asked for once (the writers
    /// log only sessions that have been saved).
    pub(crate) fn log_handle(&self, store: &dyn SessionStore) -> Option<&LogHandle> {
        self.log
            .get_or_init(|| store.log_handle(&self.session_id))
            .as_ref()
    }

    /// Where the connection is in the hub's guild lists (see
    /// [`index::Places`]).
    fn places(&self) -> MutexGuard<'_, index::Places> {
        lock(&self.places)
    }

    /// Whether the session's shard receives events of `guild` (`None`:
    /// DMs and guild-less events, shard 0).
    fn on_shard(&self, guild: Option<Snowflake>) -> bool {
        on_shard(self.shard, guild)
    }

    /// Queues an event without waking the session task; returns whether
    /// it must be woken (the queue was empty: a non-empty queue's task was
    /// woken when it became non-empty and drains it before it waits).
    fn push(&self, event: Arc<Prepared>) -> bool {
        self.push_with(|events| events.push_back(event))
    }

    /// Queues what `fill` pushes onto the back of the queue, in order and
    /// under the queue's lock, as [`push`](Self::push) does one event;
    /// `fill` must only push. Returns whether the task must be woken.
    pub(crate) fn push_with(&self, fill: impl FnOnce(&mut VecDeque<Arc<Prepared>>)) -> bool {
        let mut events = lock(&self.events);
        let was_empty = events.is_empty();
        fill(&mut events);
        let wake = was_empty && !events.is_empty();
        if events.len() > self.capacity && !self.overflowed.swap(true, Ordering::AcqRel) {
            drop(events);
            self.send_control(Control::Overflow);
        }
        wake
    }

    /// Wakes the session task for what [`push`](Self::push) queued.
    pub(crate) fn wake(&self) {
        self.ready.notify_one();
    }

    /// The next control message, or else the next queued event, waiting
    /// for one (cancel safe).
    pub(crate) async fn next_input(&self) -> Input {
        loop {
            let notified = self.ready.notified();
            if let Some(control) = lock(&self.controls).pop_front() {
                return Input::Control(control);
            }
            if let Some(event) = self.try_event() {
                return Input::Event(event);
            }
            notified.await;
        }
    }

    /// Waits until there is something for the task: a control message, a
    /// queued event, or a writer's unfinished write. Takes nothing
    /// (cancel safe): the task takes its socket back first, so that no
    /// event is taken while a writer may still write an earlier one.
    pub(crate) async fn wait_input(&self) {
        loop {
            let notified = self.ready.notified();
            // One lock at a time: in one condition, the first operand's
            // guard would live on while the others lock (the controls'
            // lock held while taking the slot's).
            let control = !lock(&self.controls).is_empty();
            let event = !lock(&self.events).is_empty();
            if control || event || self.stalled() {
                return;
            }
            notified.await;
        }
    }

    /// The next control message, if one is waiting.
    pub(crate) fn next_control(&self) -> Option<Control> {
        lock(&self.controls).pop_front()
    }

    /// Waits until a control message is queued, without taking it (cancel
    /// safe): a write to a client that stopped reading gives way to it.
    pub(crate) async fn control_waiting(&self) {
        loop {
            let notified = self.ready.notified();
            if !lock(&self.controls).is_empty() {
                return;
            }
            notified.await;
        }
    }

    /// The next queued event if there is one. A queue that drained after a
    /// burst gives back its memory.
    pub(crate) fn try_event(&self) -> Option<Arc<Prepared>> {
        let mut events = lock(&self.events);
        let event = events.pop_front();
        give_back_if_drained(&mut events);
        event
    }

    /// Moves up to `max` queued events to `out`, under one lock.
    pub(crate) fn take_events(&self, max: usize, out: &mut impl Extend<Arc<Prepared>>) {
        let mut events = lock(&self.events);
        let n = max.min(events.len());
        out.extend(events.drain(..n));
        give_back_if_drained(&mut events);
    }

    /// Whether no event is queued.
    pub(crate) fn no_events(&self) -> bool {
        lock(&self.events).is_empty()
    }

    /// Tells the session task something; it reads these before events.
    pub(crate) fn send_control(&self, control: Control) {
        lock(&self.controls).push_back(control);
        self.ready.notify_one();
    }

    /// Queues one event as fanout does, without waking anyone.
    #[cfg(test)]
    pub(crate) fn queue(&self, event: Arc<Prepared>) {
        self.push(event);
    }

    /// The next control message if one is waiting.
    #[cfg(test)]
    pub(crate) fn try_control(&self) -> Option<Control> {
        self.next_control()
    }
}

/// Gives back the slots of an event queue that drained after a burst.
fn give_back_if_drained(events: &mut VecDeque<Arc<Prepared>>) {
    if events.is_empty() && events.capacity() > KEPT_QUEUE_CAPACITY {
        events.shrink_to(IDLE_QUEUE_CAPACITY);
    }
}

/// Whether a session on `shard` receives events of `guild`:
/// `(guild_id >> 22) % count == id`; guild-less events (DMs) go to shard 0;
/// an unsharded session receives everything.
pub(crate) fn on_shard(shard: Option<[u32; 2]>, guild: Option<Snowflake>) -> bool {
    match (shard, guild) {
        (None, _) => true,
        (Some([id, _]), None) => id == 0,
        (Some([id, count]), Some(g)) => (g.get() >> 22) % u64::from(count) == u64::from(id),
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

mod fanout;
mod index;

use fanout::Fanout;

use index::State;

/// A change of the node's pub/sub subscriptions.
#[derive(Debug)]
pub(crate) enum SubCommand {
    Subscribe(Vec<Topic>, Option<oneshot::Sender<()>>),
    Unsubscribe(Vec<Topic>),
}

/// The node's session index.
pub(crate) struct Hub {
    state: Mutex<State>,
    subs: mpsc::UnboundedSender<SubCommand>,
}

impl Hub {
    pub(crate) fn new(subs: mpsc::UnboundedSender<SubCommand>) -> Self {
        Hub {
            state: Mutex::new(State::default()),
            subs,
        }
    }

    /// Adds a connection with its guilds; returns once the node is
    /// subscribed to every topic it needs, so no event published after this
    /// returns is missed.
    pub(crate) async fn register(&self, handle: Arc<SessionHandle>, guilds: &[GatewayGuild]) {
        let mut topics = Vec::new();
        {
            let mut state = lock(&self.state);
            if state.add(&handle) {
                topics.push(Topic::User(handle.user_id));
            }
            for guild in guilds {
                if state.join(&handle, guild) {
                    topics.push(Topic::Guild(guild.guild.id));
                }
            }
        }
        let (tx, rx) = oneshot::channel();
        if self
            .subs
            .send(SubCommand::Subscribe(topics, Some(tx)))
            .is_ok()
        {
            let _ = rx.await;
        }
    }

    /// Makes `handle` the connection serving its session on this node;
    /// returns the one it replaces, if any.
    pub(crate) fn set_owner(&self, handle: &Arc<SessionHandle>) -> Option<Arc<SessionHandle>> {
        lock(&self.state).set_owner(handle)
    }

    /// The connection serving `session_id` here, if any.
    pub(crate) fn owner(&self, session_id: &str) -> Option<Arc<SessionHandle>> {
        lock(&self.state).owner(session_id)
    }

    /// Every connection on this node.
    pub(crate) fn all(&self) -> Vec<Arc<SessionHandle>> {
        lock(&self.state).handles()
    }

    /// The guilds a connection receives events of.
    pub(crate) fn guilds_of(&self, conn: u64) -> Vec<Snowflake> {
        lock(&self.state).guilds_of(conn)
    }

    /// Whether a connection receives events of `guild`.
    pub(crate) fn in_guild(&self, conn: u64, guild: Snowflake) -> bool {
        lock(&self.state).in_guild(conn, guild)
    }

    /// Removes a connection; unsubscribes from topics nobody here needs.
    pub(crate) fn unregister(&self, conn: u64) {
        let Some((handle, last, emptied)) = lock(&self.state).remove(conn) else {
            return;
        };
        let mut topics: Vec<Topic> = emptied.into_iter().map(Topic::Guild).collect();
        if last {
            topics.push(Topic::User(handle.user_id));
        }
        if !topics.is_empty() {
            let _ = self.subs.send(SubCommand::Unsubscribe(topics));
        }
    }

    /// Delivers an event that arrived on `topic`.
    #[cfg(test)]
    pub(crate) fn deliver(&self, topic: &Topic, event: Event) {
        let mut wakes = VecDeque::new();
        self.deliver_deferred(topic, event, &mut wakes);
        for handle in wakes {
            handle.wake();
        }
    }

    /// Queues an event that arrived on `topic` for its recipients, adding
    /// the sessions that must be woken for it to `wakes`. Waking after a
    /// batch of events lets each session write the batch at once.
    pub(crate) fn deliver_deferred(
        &self,
        topic: &Topic,
        event: Event,
        wakes: &mut VecDeque<Arc<SessionHandle>>,
    ) {
        let typed = if changes_state(&event.name) {
            DispatchEvent::from_raw(&event.name, &event.data).ok()
        } else {
            None
        };
        let to_all = event.users.is_empty();
        let mut fan = Fanout::new(event);
        let event = &fan.event;
        let (name, guild_id) = (event.name.clone(), event.guild_id);
        let mut state = lock(&self.state);
        let mut unsubscribe = Vec::new();
        match topic {
            Topic::Guild(guild) if to_all => {
                let Some(entry) = state.guilds.get_mut(guild) else {
                    return;
                };
                // A deleted channel is judged by who could see it; anything
                // else by the state after the change.
                let deleting = name == "CHANNEL_DELETE";
                // Runs still pending go first: they came before this event.
                // (Before a change of who sees what, too: they are judged
                // by the view they came under.)
                for at in 0..entry.sessions.len() {
                    if entry.take_pending(at) {
                        wakes.push_back(Arc::clone(&entry.sessions[at].handle));
                    }
                }
                if let (Some(typed), false) = (&typed, deleting) {
                    entry.view.apply(typed);
                }
                for member in entry.sessions.iter_mut() {
                    let (session, seen) = (&member.handle, &mut member.seen);
                    let visible = |ch| entry.view.can_view_seen(session.user_id, ch, seen);
                    fan.offer(session, visible, wakes);
                }
                if let (Some(typed), true) = (&typed, deleting) {
                    entry.view.apply(typed);
                }
                let emptied = match typed {
                    Some(DispatchEvent::GuildMemberRemove(e)) => {
                        state.leave_where(*guild, |s| s.user_id == e.user.id)
                    }
                    Some(DispatchEvent::GuildDelete(_)) => state.leave_where(*guild, |_| true),
                    _ => false,
                };
                if emptied {
                    unsubscribe.push(Topic::Guild(*guild));
                }
            }
            Topic::User(user) => {
                let sessions = state.user_sessions(*user);
                let mut subscribe = Vec::new();
                for session in &sessions {
                    // Runs still pending for the session go first.
                    if state.take_pending(session) {
                        wakes.push_back(Arc::clone(session));
                    }
                    let view = guild_id.and_then(|g| state.guilds.get_mut(&g));
                    let visible = |ch| view.is_none_or(|e| e.view.can_view(session.user_id, ch));
                    fan.offer(session, visible, wakes);
                    match &typed {
                        // The user joined a guild: its events follow.
                        Some(DispatchEvent::GuildCreate(
                            discord_proto::gateway::GuildCreate::Available(g),
                        )) if session.on_shard(Some(g.guild.id)) => {
                            let created = state.join(session, g);
                            subscribe.extend(created.then_some(Topic::Guild(g.guild.id)));
                        }
                        _ if name == "GUILD_DELETE" => {
                            if let Some(g) = guild_id
                                && state.leave(session.conn, g)
                            {
                                unsubscribe.push(Topic::Guild(g));
                            }
                        }
                        _ => {}
                    }
                }
                if !subscribe.is_empty() {
                    let _ = self.subs.send(SubCommand::Subscribe(subscribe, None));
                }
            }
            _ => {}
        }
        drop(state);
        if !unsubscribe.is_empty() {
            let _ = self.subs.send(SubCommand::Unsubscribe(unsubscribe));
        }
    }

    /// The guild whose run of events `event`, arrived on `topic`, may join
    /// (see [`deliver_run`](Self::deliver_run)): an event for a guild's
    /// sessions that changes nothing the hub knows.
    pub(crate) fn run_guild(topic: &Topic, event: &Event) -> Option<Snowflake> {
        match topic {
            Topic::Guild(guild) if event.users.is_empty() && !changes_state(&event.name) => {
                Some(*guild)
            }
            _ => None,
        }
    }

    /// Takes events that arrived in this order on `guild`'s topic, each
    /// one for which [`run_guild`](Self::run_guild) gave `guild`: they are
    /// kept once in the guild's entry, and every session of the guild is
    /// added to `wakes` (once until it is served). A session's share is
    /// queued, exactly as [`deliver_deferred`](Self::deliver_deferred)
    /// would queue the events one after the other, when it is served
    /// ([`claim_chunk`](Self::claim_chunk), which hands a lent session's
    /// share to a writer without queueing it, or
    /// [`take_pending`](Self::take_pending)) or before anything else is
    /// queued for it: one visit per session per write rather than one per
    /// event. Queueing each event into each recipient's queue at once cost
    /// two cache misses per recipient per event (the queue's lock and
    /// slot), 16-17% of the server's CPU at 500,000 deliveries/s; queued
    /// this way, 2.7% (docs/benchmarks.md).
    pub(crate) fn deliver_run(
        &self,
        guild: Snowflake,
        events: Vec<Event>,
        wakes: &mut VecDeque<Arc<SessionHandle>>,
    ) {
        let mut state = lock(&self.state);
        let Some(entry) = state.guilds.get_mut(&guild) else {
            return;
        };
        let before = entry.pending.len();
        let wanted = |e: &Event| {
            Intents::required_for(&e.name, e.guild_id.is_some())
                .is_none_or(|needs| entry.intents.intersects(needs))
        };
        let kept: Vec<Fanout> = events.into_iter().filter(wanted).map(Fanout::new).collect();
        entry.pending.extend(kept);
        if entry.pending.len() == before {
            return;
        }
        for member in entry.sessions.iter_mut() {
            if !member.flagged {
                member.flagged = true;
                wakes.push_back(Arc::clone(&member.handle));
            }
        }
    }

    /// Queues the runs still pending for each of `handles` (see
    /// [`deliver_run`](Self::deliver_run)), without waking anyone: a
    /// session's task calls this before it logs what is queued for a
    /// hand-over.
    pub(crate) fn take_pending(&self, handles: &[Arc<SessionHandle>]) {
        let mut state = lock(&self.state);
        for handle in handles {
            state.take_pending(handle);
        }
    }

    /// For the pump, about to hand `handles` to a writer: claims each one
    /// whose socket is lent, with up to `max` events (what it had queued,
    /// then its share of the pending runs, appended to `out`), and queues
    /// the share of the others, without waking anyone (see
    /// [`SessionHandle::claim_with_pending`]). Returns each one with its
    /// claim, in order.
    pub(crate) fn claim_chunk(
        &self,
        handles: impl IntoIterator<Item = Arc<SessionHandle>>,
        max: usize,
        out: &mut crate::writer::ChunkEvents,
    ) -> Vec<(Arc<SessionHandle>, crate::writer::Claim)> {
        let mut state = lock(&self.state);
        handles
            .into_iter()
            .map(|handle| {
                let claim = handle.claim_with_pending(max, out, |to| {
                    state.take_pending_to(&handle, to);
                });
                (handle, claim)
            })
            .collect()
    }
}

/// Whether an event changes what the hub knows (who sees what, or which
/// sessions are in a guild), so that it is decoded and applied.
fn changes_state(name: &str) -> bool {
    GuildView::is_relevant(name) || matches!(name, "GUILD_CREATE" | "GUILD_DELETE")
}

#[cfg(test)]
mod tests;
