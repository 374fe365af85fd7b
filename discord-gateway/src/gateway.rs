//! The gateway node: its stores, its pub/sub pump, publishing, the axum
//! routes that accept connections, and graceful shutdown.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use bytes::Bytes;
use discord_proto::Snowflake;
use discord_proto::compression::TransportCompression;
use discord_proto::gateway::PresenceUser;
use discord_proto::gateway::{DispatchEvent, PresenceUpdate};
use discord_proto::model::Status;
use discord_store::{PresenceStore, PubSub, SessionStore, Stores, Topic};
use serde::Deserialize;
use tokio::sync::{Notify, mpsc, oneshot, watch};

use crate::data::{GatewayData, VoiceHook};
use crate::event::{Event, Wire};
use crate::hub::{Control, Hub, ReleaseReply, SessionHandle, SubCommand, lock};
use crate::{GatewayConfig, Result};

/// The stores a gateway node uses.
#[derive(Clone)]
pub struct GatewayStores {
    /// Resume state and replay logs.
    pub sessions: Arc<dyn SessionStore>,
    /// Online status.
    pub presence: Arc<dyn PresenceStore>,
    /// Events between nodes.
    pub pubsub: Arc<dyn PubSub>,
}

impl From<&Stores> for GatewayStores {
    fn from(s: &Stores) -> Self {
        GatewayStores {
            sessions: Arc::clone(&s.sessions),
            presence: Arc::clone(&s.presence),
            pubsub: Arc::clone(&s.pubsub),
        }
    }
}

impl std::fmt::Debug for GatewayStores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayStores").finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub config: GatewayConfig,
    /// The session protocol's limits, from `config`, shared by every
    /// connection.
    pub limits: Arc<crate::protocol::Limits>,
    pub data: Arc<dyn GatewayData>,
    pub voice: Option<Arc<dyn VoiceHook>>,
    pub stores: GatewayStores,
    pub hub: Hub,
    next_conn: AtomicU64,
    /// Session ID -> the RESUME waiting for another node to release it.
    pending_releases: Mutex<HashMap<String, oneshot::Sender<()>>>,
    /// Becomes `true` when the node shuts down.
    pub shutdown: watch::Sender<bool>,
    /// Live session tasks, for the shutdown drain.
    pub live: AtomicU64,
    pub drained: Notify,
    /// Socket writes the writers have made (`Gateway::fanout_writes`).
    pub fanout_writes: AtomicU64,
}

impl Inner {
    /// How long a session's record and replay log outlive its last write:
    /// the resume window, after the heartbeat timeout that detects a dead
    /// connection.
    pub(crate) fn session_ttl(&self) -> Duration {
        self.config.resume_window + self.config.heartbeat_timeout
    }

    pub(crate) fn next_conn(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// Publishes an event to its topics.
    pub(crate) async fn publish(&self, event: &Event) -> Result<()> {
        let topics = event.topics();
        if topics.is_empty() {
            return Ok(());
        }
        let bytes = Bytes::from(serde_json::to_vec(&Wire::Event(event.clone()))?);
        for topic in topics {
            self.stores.pubsub.publish(&topic, bytes.clone()).await?;
        }
        Ok(())
    }

    async fn send_wire(&self, node: &str, wire: &Wire) -> Result<()> {
        let bytes = Bytes::from(serde_json::to_vec(wire)?);
        self.stores
            .pubsub
            .publish(&Topic::Node(node.to_owned()), bytes)
            .await?;
        Ok(())
    }

    /// Tells whoever asked that `session_id` was released.
    pub(crate) async fn released(&self, session_id: &str, reply: ReleaseReply) {
        match reply {
            ReleaseReply::Local(tx) => {
                let _ = tx.send(());
            }
            ReleaseReply::Remote(node) => {
                let wire = Wire::Released {
                    session_id: session_id.to_owned(),
                };
                if let Err(e) = self.send_wire(&node, &wire).await {
                    tracing::warn!(%session_id, %node, "could not answer a release: {e}");
                }
            }
        }
    }

    /// Asks the node (this one or another) serving `session_id` to let go
    /// of it, and waits (bounded) until it has. After this, the session's
    /// replay log is complete up to the moment the old owner stopped.
    pub(crate) async fn take_over(&self, session_id: &str, owner_node: Option<&str>, me: u64) {
        let wait = Duration::from_secs(3);
        if let Some(local) = self.hub.owner(session_id).filter(|h| h.conn != me) {
            let (tx, rx) = oneshot::channel();
            local.send_control(Control::Release(ReleaseReply::Local(tx)));
            let _ = tokio::time::timeout(wait, rx).await;
            return;
        }
        let Some(node) = owner_node.filter(|n| *n != self.config.node_id) else {
            return;
        };
        let (tx, rx) = oneshot::channel();
        lock(&self.pending_releases).insert(session_id.to_owned(), tx);
        let wire = Wire::Release {
            session_id: session_id.to_owned(),
            node: self.config.node_id.clone(),
        };
        if self.send_wire(node, &wire).await.is_ok()
            && tokio::time::timeout(wait, rx).await.is_err()
        {
            tracing::info!(%session_id, %node, "previous node did not answer; resuming from the stored log");
        }
        lock(&self.pending_releases).remove(session_id);
    }

    /// Announces a user's presence to every guild they share with sessions.
    pub(crate) async fn announce_presence(&self, update: PresenceUpdate, guilds: &[Snowflake]) {
        for guild in guilds {
            let mut update = update.clone();
            update.guild_id = Some(*guild);
            match Event::new(&DispatchEvent::PresenceUpdate(Box::new(update))) {
                Ok(event) => {
                    if let Err(e) = self.publish(&event).await {
                        tracing::warn!("presence publish failed: {e}");
                    }
                }
                Err(e) => tracing::warn!("presence encode failed: {e}"),
            }
        }
    }

    /// Handles pub/sub messages in their order of arrival, draining
    /// `messages`; sessions to wake for queued events are added to `wakes`.
    pub(crate) fn on_wire(
        &self,
        messages: &mut Vec<(Topic, Bytes)>,
        wakes: &mut VecDeque<Arc<SessionHandle>>,
    ) {
        // Consecutive events for one guild's sessions that change nothing
        // are queued as a run: each session is visited once for all.
        let mut run: Option<(Snowflake, Vec<Event>)> = None;
        for (topic, bytes) in messages.drain(..) {
            let wire: Wire = match serde_json::from_slice(&bytes) {
                Ok(w) => w,
                Err(e) => {
                    tracing::warn!(?topic, "dropping an undecodable pub/sub message: {e}");
                    continue;
                }
            };
            let guild = match &wire {
                Wire::Event(event) => Hub::run_guild(&topic, event),
                _ => None,
            };
            match (wire, guild) {
                (Wire::Event(event), Some(guild)) => match run.as_mut() {
                    Some((g, events)) if *g == guild => events.push(event),
                    _ => {
                        if let Some((g, events)) = run.replace((guild, vec![event])) {
                            self.hub.deliver_run(g, events, wakes);
                        }
                    }
                },
                (wire, _) => {
                    if let Some((g, events)) = run.take() {
                        self.hub.deliver_run(g, events, wakes);
                    }
                    self.on_message(&topic, wire, wakes);
                }
            }
        }
        if let Some((g, events)) = run {
            self.hub.deliver_run(g, events, wakes);
        }
    }

    /// Handles one pub/sub message that is not part of a run.
    fn on_message(&self, topic: &Topic, wire: Wire, wakes: &mut VecDeque<Arc<SessionHandle>>) {
        match wire {
            Wire::Event(event) => self.hub.deliver_deferred(topic, event, wakes),
            Wire::Release { session_id, node } => match self.hub.owner(&session_id) {
                Some(handle) => {
                    handle.send_control(Control::Release(ReleaseReply::Remote(node)));
                }
                None => {
                    // Not here (any more): the stored log is all there is.
                    let reply = Wire::Released { session_id };
                    let this = self.stores.pubsub.clone();
                    if let Ok(bytes) = serde_json::to_vec(&reply) {
                        tokio::spawn(async move {
                            let _ = this.publish(&Topic::Node(node), Bytes::from(bytes)).await;
                        });
                    }
                }
            },
            Wire::Released { session_id } => {
                if let Some(tx) = lock(&self.pending_releases).remove(&session_id) {
                    let _ = tx.send(());
                }
            }
        }
    }
}

/// A gateway node. Cheap to clone; every clone is the same node.
#[derive(Clone)]
pub struct Gateway {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("node_id", &self.inner.config.node_id)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// Starts a node: subscribes to its pub/sub topics and starts the
    /// presence sweeper.
    pub async fn start(
        config: GatewayConfig,
        data: Arc<dyn GatewayData>,
        voice: Option<Arc<dyn VoiceHook>>,
        stores: GatewayStores,
    ) -> Result<Gateway> {
        let mut subscriber = stores.pubsub.subscriber().await?;
        subscriber
            .subscribe(&Topic::Node(config.node_id.clone()))
            .await?;
        let (sub_tx, sub_rx) = mpsc::unbounded_channel::<SubCommand>();
        let inner = Arc::new(Inner {
            limits: Arc::new(crate::protocol::Limits::from(&config)),
            config,
            data,
            voice,
            stores,
            hub: Hub::new(sub_tx),
            next_conn: AtomicU64::new(1),
            pending_releases: Mutex::new(HashMap::new()),
            shutdown: watch::channel(false).0,
            live: AtomicU64::new(0),
            drained: Notify::new(),
            fanout_writes: AtomicU64::new(0),
        });
        tokio::spawn(crate::pump::run(subscriber, sub_rx, Arc::downgrade(&inner)));
        // Presences whose owners vanished (a node died) expire; tell their
        // guilds.
        let weak = Arc::downgrade(&inner);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(5));
            loop {
                every.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                let expired = match inner.stores.presence.sweep_expired().await {
                    Ok(users) => users,
                    Err(e) => {
                        tracing::warn!("presence sweep failed: {e}");
                        continue;
                    }
                };
                for user in expired {
                    let guilds = inner.data.guild_ids(user).await.unwrap_or_default();
                    inner.announce_presence(offline(user), &guilds).await;
                }
            }
        });
        Ok(Gateway { inner })
    }

    /// Publishes an event to every node; each delivers it to its own
    /// sessions that may see it.
    pub async fn publish(&self, event: &Event) -> Result<()> {
        self.inner.publish(event).await
    }

    /// The routes that accept gateway connections at `path` (with or
    /// without a trailing slash), e.g. `"/"` or `"/gateway"`.
    pub fn router<S>(&self, path: &str) -> Router<S> {
        let path = path.trim_end_matches('/');
        let mut router =
            Router::new().route(if path.is_empty() { "/" } else { path }, get(upgrade));
        if !path.is_empty() {
            router = router.route(&format!("{path}/"), get(upgrade));
        }
        router.with_state(self.clone())
    }

    /// Sessions (connected or waiting to be resumed) on this node.
    pub fn session_count(&self) -> usize {
        self.inner.hub.all().len()
    }

    /// Socket writes this node's writers have made so far, each carrying
    /// one or more fanned-out events to one session. Delivered events
    /// divided by this is how well writes are batched. On Linux the
    /// writers' writes are `sendmsg` calls, which the process's `syscw`
    /// count in `/proc/<pid>/io` does not include.
    pub fn fanout_writes(&self) -> u64 {
        self.inner.fanout_writes.load(Ordering::Relaxed)
    }

    /// Graceful shutdown: every session gets op 7 RECONNECT and is closed;
    /// each stays on this node (keeping its replay log current) until it is
    /// resumed elsewhere, or `drain` passes.
    pub async fn shutdown(&self, drain: Duration) {
        self.inner.shutdown.send_replace(true);
        for handle in self.inner.hub.all() {
            handle.send_control(Control::Reconnect);
        }
        let wait = async {
            while self.inner.live.load(Ordering::Acquire) > 0 {
                let notified = self.inner.drained.notified();
                if self.inner.live.load(Ordering::Acquire) == 0 {
                    break;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(drain, wait).await;
    }
}

/// A user's presence after their last session ended.
pub(crate) fn offline(user: Snowflake) -> PresenceUpdate {
    PresenceUpdate {
        user: PresenceUser {
            id: user,
            rest: serde_json::Map::new(),
        },
        guild_id: None,
        status: Status::Offline,
        activities: Vec::new(),
        client_status: Default::default(),
    }
}

/// The gateway URL's query: `?v=10&encoding=json&compress=zlib-stream`.
#[derive(Debug, Deserialize)]
pub(crate) struct ConnectQuery {
    #[serde(default)]
    v: Option<String>,
    #[serde(default)]
    encoding: Option<String>,
    #[serde(default)]
    compress: Option<String>,
}

/// What a connection's query asks for, or the close code that refuses it.
pub(crate) enum Accept {
    Open(Option<TransportCompression>),
    Refuse(discord_proto::gateway::CloseCode, &'static str),
}

impl ConnectQuery {
    pub(crate) fn accept(&self) -> Accept {
        use discord_proto::gateway::CloseCode;
        match self.v.as_deref() {
            None | Some("10") | Some("9") => {}
            Some(_) => return Accept::Refuse(CloseCode::InvalidApiVersion, "invalid API version"),
        }
        match self.encoding.as_deref() {
            None | Some("json") => {}
            Some(_) => {
                return Accept::Refuse(CloseCode::DecodeError, "only encoding=json is supported");
            }
        }
        match self.compress.as_deref() {
            None | Some("") => Accept::Open(None),
            Some(c) => match c.parse::<TransportCompression>() {
                Ok(kind) => Accept::Open(Some(kind)),
                Err(_) => Accept::Refuse(CloseCode::DecodeError, "unknown compress value"),
            },
        }
    }
}

async fn upgrade(
    State(gateway): State<Gateway>,
    Query(query): Query<ConnectQuery>,
    ws: crate::socket::Upgrade,
) -> Response {
    let config = &gateway.inner.config;
    // Read a little past the protocol's limit so an oversized frame gets a
    // clean 4002 from the protocol rather than a transport error.
    let max_message = (config.max_frame_size * 4).max(16 * 1024);
    let inner = Arc::clone(&gateway.inner);
    ws.on_upgrade(max_message, move |socket| {
        crate::connection::run(inner, socket, query.accept())
    })
}
