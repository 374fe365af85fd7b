//! The thin async loop around [`Protocol`]: one task per connection reads
//! the WebSocket, writes events (through the replay log first, so whatever
//! a client saw can be replayed), runs the identify and resume flows, and
//! after a drop keeps the session's log current until it is resumed, here
//! or on another node, or its resume window ends.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use discord_proto::Snowflake;
use discord_proto::compression::{Encoder, TransportCompression};
use discord_proto::gateway::{
    CloseCode, GatewayGuild, GuildCreate, GuildMembersChunk, Identify, Intents, PresenceUpdate,
    PresenceUser, Ready, RequestGuildMembers, Resume, UpdatePresence,
};
use discord_proto::model::{Status, UnavailableGuild, User};
use discord_store::presence::PresenceRecord;
use discord_store::session::{Replay, SessionRecord};
use futures::SinkExt;
use tokio::sync::mpsc;

use crate::data::{AuthError, MemberQuery, VoiceSession};
use crate::gateway::{Accept, Inner, offline};
use crate::hub::{Control, Prepared, ReleaseReply, SessionHandle};
use crate::protocol::{Limits, Protocol, Step};
use crate::view::GuildView;

/// The most events written to the socket before a flush.
const BATCH: usize = 64;
/// Members per GUILD_MEMBERS_CHUNK, as Discord sends them.
const CHUNK: usize = 1000;

/// Counts the connection as live for the shutdown drain.
struct LiveGuard(Arc<Inner>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        if self.0.live.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.drained.notify_waiters();
        }
    }
}

/// Serves one accepted WebSocket until the session ends or moves away.
pub(crate) async fn run(inner: Arc<Inner>, mut socket: WebSocket, accept: Accept) {
    inner.live.fetch_add(1, Ordering::AcqRel);
    let _guard = LiveGuard(Arc::clone(&inner));
    let compression = match accept {
        Accept::Open(c) => c,
        Accept::Refuse(code, reason) => {
            let _ = socket.send(close_message(code, reason)).await;
            return;
        }
    };
    let encoder = match compression.map(Encoder::new).transpose() {
        Ok(e) => e,
        Err(_) => {
            let _ = socket
                .send(close_message(
                    CloseCode::UnknownError,
                    "compression unavailable",
                ))
                .await;
            return;
        }
    };
    let conn = inner.next_conn();
    let proto = Protocol::new(Limits::from(&inner.config), Instant::now());
    let mut c = Conn {
        inner,
        conn,
        socket: Some(socket),
        encoder,
        compression,
        proto,
        live: None,
    };
    c.serve().await;
}

/// A session's state once IDENTIFY or RESUME succeeded.
struct Live {
    handle: Arc<SessionHandle>,
    events: mpsc::Receiver<Arc<Prepared>>,
    user: User,
    presence: PresenceRecord,
    /// After a RESUME: IDs of replayed events, so the same events queued
    /// during the hand-over are not sent twice.
    dedup: HashSet<u64>,
    last_refresh: Instant,
}

/// How the connected phase ended.
enum Ended {
    /// The session is over (client closed with 1000/1001, or it never
    /// started).
    Finished,
    /// The socket is gone; the session stays resumable.
    Detached,
    /// The session was handed to another connection.
    Released,
}

struct Conn {
    inner: Arc<Inner>,
    conn: u64,
    socket: Option<WebSocket>,
    encoder: Option<Encoder>,
    compression: Option<TransportCompression>,
    proto: Protocol,
    live: Option<Live>,
}

fn close_message(code: CloseCode, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code: code.get(),
        reason: reason.into(),
    }))
}

/// What a live session is told next: control first.
enum Input {
    Control(Control),
    Event(Option<Arc<Prepared>>),
}

async fn next_input(live: &mut Option<Live>) -> Input {
    match live {
        Some(l) => tokio::select! {
            biased;
            c = l.handle.next_control() => Input::Control(c),
            e = l.events.recv() => Input::Event(e),
        },
        None => std::future::pending().await,
    }
}

impl Conn {
    async fn serve(&mut self) {
        let hello = self.proto.hello();
        if self.send_text(hello).await.is_err() || self.flush().await.is_err() {
            return;
        }
        match self.connected().await {
            Ended::Finished => Box::pin(self.finish()).await,
            Ended::Released => {}
            Ended::Detached => Box::pin(self.detached()).await,
        }
    }

    /// The connected phase: socket, timers, events and control.
    async fn connected(&mut self) -> Ended {
        // One timer for the connection, moved only when the deadline does
        // (registering a new timer per event showed up in profiles).
        let mut deadline = tokio::time::Instant::from_std(self.proto.next_deadline());
        let timer = tokio::time::sleep_until(deadline);
        tokio::pin!(timer);
        loop {
            let next = tokio::time::Instant::from_std(self.proto.next_deadline());
            if next != deadline || timer.is_elapsed() {
                deadline = next;
                timer.as_mut().reset(deadline);
            }
            let Some(socket) = self.socket.as_mut() else {
                return self.ended_without_socket();
            };
            tokio::select! {
                biased;
                input = next_input(&mut self.live) => match input {
                    Input::Control(Control::Release(reply)) => {
                        self.close(CloseCode::UnknownError, "session resumed on another connection").await;
                        Box::pin(self.release(reply)).await;
                        return Ended::Released;
                    }
                    Input::Control(Control::Overflow) => {
                        self.close(CloseCode::UnknownError, "too slow: resume to catch up").await;
                        return Ended::Detached;
                    }
                    Input::Control(Control::Reconnect) => {
                        let frame = discord_proto::gateway::ServerMessage::Reconnect.encode();
                        let _ = self.send_text(frame).await;
                        let _ = self.flush().await;
                        self.close(CloseCode::UnknownError, "node shutting down: resume").await;
                        return self.ended_without_socket();
                    }
                    Input::Event(None) => return Ended::Detached,
                    Input::Event(Some(event)) => {
                        if self.write_events(event).await.is_err() {
                            self.socket = None;
                            return self.ended_without_socket();
                        }
                    }
                },
                message = socket.recv() => {
                    let bytes = match message {
                        Some(Ok(Message::Text(t))) => t.as_str().as_bytes().to_vec(),
                        Some(Ok(Message::Binary(b))) => b.to_vec(),
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                        Some(Ok(Message::Close(frame))) => {
                            let code = frame.map_or(1005, |f| f.code);
                            self.socket = None;
                            return if matches!(code, 1000 | 1001) || self.live.is_none() {
                                Ended::Finished
                            } else {
                                Ended::Detached
                            };
                        }
                        Some(Err(e)) => {
                            tracing::debug!(conn = self.conn, "socket error: {e}");
                            // Oversized messages end up here.
                            self.close(CloseCode::DecodeError, "payload too large or malformed").await;
                            return self.ended_without_socket();
                        }
                        None => {
                            self.socket = None;
                            return self.ended_without_socket();
                        }
                    };
                    let step = self.proto.receive(&bytes, Instant::now());
                    if let Some(end) = self.step(step, true).await {
                        return end;
                    }
                }
                _ = &mut timer => {
                    let step = self.proto.tick(Instant::now());
                    if let Some(end) = self.step(step, false).await {
                        return end;
                    }
                }
            }
        }
    }

    fn ended_without_socket(&self) -> Ended {
        if self.live.is_some() {
            Ended::Detached
        } else {
            Ended::Finished
        }
    }

    /// Carries out a protocol step; `Some` ends the connected phase.
    async fn step(&mut self, step: Step, from_client: bool) -> Option<Ended> {
        match step {
            Step::Nothing => {}
            Step::Send(frame) => {
                if self.send_text(frame).await.is_err() || self.flush().await.is_err() {
                    self.socket = None;
                    return Some(self.ended_without_socket());
                }
                if from_client {
                    self.refresh().await;
                }
            }
            Step::Close(code) => {
                self.close(code, code.reason()).await;
                return Some(self.ended_without_socket());
            }
            Step::Identify(identify) => return Box::pin(self.identify(identify)).await,
            Step::Resume(resume) => return Box::pin(self.resume(resume)).await,
            Step::PresenceUpdate(update) => Box::pin(self.presence_update(*update)).await,
            Step::VoiceStateUpdate(update) => {
                if let (Some(voice), Some(live)) = (&self.inner.voice, &self.live) {
                    let session = VoiceSession {
                        session_id: live.handle.session_id.clone(),
                        user_id: live.handle.user_id,
                    };
                    voice.voice_state_update(&session, *update).await;
                }
            }
            Step::RequestGuildMembers(request) => {
                if Box::pin(self.request_members(*request)).await.is_err() {
                    self.socket = None;
                    return Some(self.ended_without_socket());
                }
            }
        }
        None
    }

    /// Refreshes the session's and presence's expiry, at most twice per
    /// heartbeat interval.
    async fn refresh(&mut self) {
        let interval = self.inner.config.heartbeat_interval / 2;
        let Some(live) = self.live.as_mut() else {
            return;
        };
        if live.last_refresh.elapsed() < interval {
            return;
        }
        live.last_refresh = Instant::now();
        let record = self.record(None);
        let stores = &self.inner.stores;
        let ttl = self.session_ttl();
        if let Some(record) = record
            && let Err(e) = stores.sessions.save(&record, ttl).await
        {
            tracing::warn!("session refresh failed: {e}");
        }
        let Some(live) = self.live.as_ref() else {
            return;
        };
        if let Err(e) = stores
            .presence
            .set(live.user.id, &live.presence, self.inner.config.presence_ttl)
            .await
        {
            tracing::warn!("presence refresh failed: {e}");
        }
    }

    fn session_ttl(&self) -> std::time::Duration {
        self.inner.config.resume_window + self.inner.config.heartbeat_timeout
    }

    /// The session's record as it stands (`node`: this node unless given).
    fn record(&self, node: Option<Option<String>>) -> Option<SessionRecord> {
        let live = self.live.as_ref()?;
        Some(SessionRecord {
            session_id: live.handle.session_id.clone(),
            user_id: live.handle.user_id,
            intents: live.handle.intents.bits(),
            shard: live.handle.shard.unwrap_or([0, 1]),
            seq: self.proto.seq(),
            node_id: node.unwrap_or_else(|| Some(self.inner.config.node_id.clone())),
        })
    }

    fn new_live(
        &self,
        session_id: String,
        user: User,
        intents: Intents,
        shard: Option<[u32; 2]>,
        presence: PresenceRecord,
    ) -> Live {
        let (etx, events) = mpsc::channel(self.inner.config.outbound_queue);
        let handle = Arc::new(SessionHandle::new(
            self.conn, session_id, user.id, intents, shard, etx,
        ));
        Live {
            handle,
            events,
            user,
            presence,
            dedup: HashSet::new(),
            last_refresh: Instant::now(),
        }
    }

    async fn identify(&mut self, identify: Box<Identify>) -> Option<Ended> {
        let inner = Arc::clone(&self.inner);
        let identity = match inner.data.authenticate(&identify.token).await {
            Ok(identity) => identity,
            Err(AuthError::InvalidToken) => {
                return self.fail(CloseCode::AuthenticationFailed).await;
            }
            Err(AuthError::Unavailable(e)) => {
                tracing::warn!("authentication unavailable: {e}");
                return self.fail(CloseCode::UnknownError).await;
            }
        };
        let privileged = identify.intents & Intents::PRIVILEGED;
        if !identity.allowed_privileged.contains(privileged) {
            return self.fail(CloseCode::DisallowedIntents).await;
        }
        let user = identity.user.clone();
        let guilds = match inner.data.guilds(user.id).await {
            Ok(g) => g,
            Err(e) => {
                tracing::warn!("loading guilds failed: {e}");
                return self.fail(CloseCode::UnknownError).await;
            }
        };
        let shard = identify.shard.filter(|s| s[1] > 1);
        if identity.application.is_some()
            && shard.is_none()
            && guilds.len() > inner.config.max_guilds_per_shard
        {
            return self.fail(CloseCode::ShardingRequired).await;
        }
        let presence = identify
            .presence
            .as_ref()
            .map(presence_record)
            .unwrap_or(PresenceRecord {
                status: Status::Online,
                activities: Vec::new(),
                client_status: Default::default(),
            });
        let session_id = format!("{:032x}", rand::random::<u128>());
        let live = self.new_live(
            session_id.clone(),
            user.clone(),
            identify.intents,
            shard,
            presence,
        );
        let guilds: Vec<GatewayGuild> = guilds
            .into_iter()
            .filter(|g| on_shard(shard, g.guild.id))
            .collect();
        inner.hub.register(Arc::clone(&live.handle), &guilds).await;
        inner.hub.set_owner(&live.handle);
        self.live = Some(live);
        self.proto.identified();
        let ready = Ready {
            v: 10,
            user: user.clone(),
            guilds: guilds
                .iter()
                .map(|g| UnavailableGuild {
                    id: g.guild.id,
                    unavailable: true,
                })
                .collect(),
            session_id,
            resume_gateway_url: inner.config.resume_gateway_url.clone(),
            shard: identify.shard,
            application: identity.application,
            private_channels: Vec::new(),
        };
        let ready = serde_json::to_string(&ready).unwrap_or_else(|_| "{}".into());
        if let Some(record) = self.record(None)
            && let Err(e) = inner
                .stores
                .sessions
                .save(&record, self.session_ttl())
                .await
        {
            tracing::warn!("saving the session failed: {e}");
            return self.fail(CloseCode::UnknownError).await;
        }
        let frame = self.proto.dispatch("READY", &ready);
        if self.send_text(frame).await.is_err() {
            return Some(Ended::Detached);
        }
        let threshold = identify.large_threshold.unwrap_or(50).clamp(50, 250) as usize;
        for guild in guilds {
            let data =
                Self::guild_create(&inner, user.id, guild, threshold, identify.intents).await;
            if self.dispatch_now("GUILD_CREATE", &data, 0).await.is_err() {
                return Some(Ended::Detached);
            }
        }
        if self.flush().await.is_err() {
            self.socket = None;
            return Some(Ended::Detached);
        }
        // Tell the user's guilds they are here.
        let live = self.live.as_ref()?;
        let _ = inner
            .stores
            .presence
            .set(user.id, &live.presence, inner.config.presence_ttl)
            .await;
        let update = presence_update(user.id, &live.presence);
        let guilds = inner.hub.guilds_of(self.conn);
        inner.announce_presence(update, &guilds).await;
        None
    }

    /// GUILD_CREATE's data for this session: channels it may see, members
    /// up to the large threshold, presences with GUILD_PRESENCES.
    async fn guild_create(
        inner: &Inner,
        user: Snowflake,
        mut guild: GatewayGuild,
        threshold: usize,
        intents: Intents,
    ) -> String {
        let mut view = GuildView::new(&guild);
        if !view.is_member(user) {
            view.set_member(user, Vec::new());
        }
        guild.channels.retain(|c| view.can_view(user, c.id));
        guild.member_count = guild.member_count.max(guild.members.len() as u32);
        let member_ids: Vec<Snowflake> = guild
            .members
            .iter()
            .filter_map(|m| m.user.as_ref().map(|u| u.id))
            .collect();
        let presences = inner
            .stores
            .presence
            .get_many(&member_ids)
            .await
            .unwrap_or_default();
        if guild.member_count as usize > threshold {
            guild.large = true;
            let online: HashSet<Snowflake> = presences
                .iter()
                .filter(|(_, p)| p.status != Status::Offline)
                .map(|(id, _)| *id)
                .collect();
            guild.members.retain(|m| {
                m.user
                    .as_ref()
                    .is_some_and(|u| u.id == user || online.contains(&u.id))
            });
        }
        if intents.contains(Intents::GUILD_PRESENCES) {
            guild.presences = presences
                .iter()
                .map(|(id, p)| presence_update(*id, p))
                .collect();
        }
        guild.unavailable = false;
        serde_json::to_string(&GuildCreate::Available(Box::new(guild)))
            .unwrap_or_else(|_| "{}".into())
    }

    async fn resume(&mut self, resume: Box<Resume>) -> Option<Ended> {
        let inner = Arc::clone(&self.inner);
        let identity = match inner.data.authenticate(&resume.token).await {
            Ok(identity) => identity,
            Err(AuthError::InvalidToken) => {
                return self.fail(CloseCode::AuthenticationFailed).await;
            }
            Err(AuthError::Unavailable(_)) => return self.invalid_session(true).await,
        };
        let record = match inner.stores.sessions.get(&resume.session_id).await {
            Ok(Some(r)) if r.user_id == identity.user.id => r,
            Ok(_) => return self.invalid_session(false).await,
            Err(e) => {
                tracing::warn!("session lookup failed: {e}");
                return self.invalid_session(true).await;
            }
        };
        let guilds = match inner.data.guilds(identity.user.id).await {
            Ok(g) => g,
            Err(_) => return self.invalid_session(true).await,
        };
        let shard = Some(record.shard).filter(|s| s[1] > 1);
        let intents = Intents::from_bits_retain(record.intents);
        let guilds: Vec<GatewayGuild> = guilds
            .into_iter()
            .filter(|g| on_shard(shard, g.guild.id))
            .collect();
        let presence = inner
            .stores
            .presence
            .get_many(&[identity.user.id])
            .await
            .ok()
            .and_then(|mut v| v.pop())
            .map(|(_, p)| p)
            .unwrap_or(PresenceRecord {
                status: Status::Online,
                activities: Vec::new(),
                client_status: Default::default(),
            });
        let live = self.new_live(
            record.session_id.clone(),
            identity.user.clone(),
            intents,
            shard,
            presence,
        );
        // Subscribe first, then take the session over, then read the log:
        // every event is in the log, in this connection's queue, or both.
        inner.hub.register(Arc::clone(&live.handle), &guilds).await;
        inner
            .take_over(&record.session_id, record.node_id.as_deref(), self.conn)
            .await;
        inner.hub.set_owner(&live.handle);
        let record = inner
            .stores
            .sessions
            .get(&record.session_id)
            .await
            .ok()
            .flatten()
            .unwrap_or(record);
        let replay = match inner
            .stores
            .sessions
            .replay_after(&record.session_id, resume.seq)
            .await
        {
            Ok(replay) => replay,
            Err(e) => {
                tracing::warn!("replay failed: {e}");
                inner.hub.unregister(self.conn);
                return self.invalid_session(true).await;
            }
        };
        let entries = match replay {
            Replay::Events(entries) => entries,
            Replay::Gap if resume.seq > record.seq => {
                inner.hub.unregister(self.conn);
                return self.fail(CloseCode::InvalidSeq).await;
            }
            Replay::Gap | Replay::UnknownSession => {
                inner.hub.unregister(self.conn);
                return self.invalid_session(false).await;
            }
        };
        self.live = Some(live);
        let last = entries.last().map_or(resume.seq, |(seq, _)| *seq);
        self.proto.resumed(last);
        for (_, payload) in entries {
            let (id, frame) = split_logged(&payload);
            if let Some(live) = self.live.as_mut() {
                live.dedup.insert(id);
            }
            if self.send_text(frame.to_owned()).await.is_err() {
                self.socket = None;
                return Some(Ended::Detached);
            }
        }
        if self.dispatch_now("RESUMED", "{}", 0).await.is_err() || self.flush().await.is_err() {
            self.socket = None;
            return Some(Ended::Detached);
        }
        if let Some(record) = self.record(None) {
            let _ = inner
                .stores
                .sessions
                .save(&record, self.session_ttl())
                .await;
        }
        None
    }

    async fn invalid_session(&mut self, resumable: bool) -> Option<Ended> {
        let frame = self.proto.invalid_session(resumable);
        if self.send_text(frame).await.is_err() || self.flush().await.is_err() {
            self.socket = None;
            return Some(self.ended_without_socket());
        }
        None
    }

    async fn fail(&mut self, code: CloseCode) -> Option<Ended> {
        if let Some(live) = self.live.take() {
            self.inner.hub.unregister(live.handle.conn);
        }
        self.proto.close(code);
        self.close(code, code.reason()).await;
        Some(Ended::Finished)
    }

    async fn presence_update(&mut self, update: UpdatePresence) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        live.presence = presence_record(&update);
        let user = live.user.id;
        let record = live.presence.clone();
        let _ = self
            .inner
            .stores
            .presence
            .set(user, &record, self.inner.config.presence_ttl)
            .await;
        let guilds = self.inner.hub.guilds_of(self.conn);
        self.inner
            .announce_presence(presence_update(user, &record), &guilds)
            .await;
    }

    async fn request_members(&mut self, request: RequestGuildMembers) -> Result<(), ()> {
        let Some(live) = self.live.as_ref() else {
            return Ok(());
        };
        if !self.inner.hub.in_guild(self.conn, request.guild_id) {
            return Ok(());
        }
        let intents = live.handle.intents;
        let query = match &request.user_ids {
            Some(ids) => MemberQuery::Ids(ids.clone()),
            None => MemberQuery::Prefix(request.query.clone().unwrap_or_default()),
        };
        let limit = match &query {
            MemberQuery::Ids(ids) => ids.len().min(100),
            MemberQuery::Prefix(q) if q.is_empty() && request.limit == 0 => 0,
            MemberQuery::Prefix(_) => (request.limit as usize).clamp(1, 100),
        };
        // The whole member list needs the GUILD_MEMBERS intent; without
        // it the request gets one empty chunk (so a client waiting on its
        // nonce is answered) and no member data.
        let whole_list = limit == 0 && matches!(&query, MemberQuery::Prefix(q) if q.is_empty());
        let members = if whole_list && !intents.contains(Intents::GUILD_MEMBERS) {
            Vec::new()
        } else {
            self.inner
                .data
                .members(request.guild_id, &query, limit)
                .await
                .unwrap_or_default()
        };
        let not_found = match &query {
            MemberQuery::Ids(ids) => Some(
                ids.iter()
                    .filter(|id| {
                        !members
                            .iter()
                            .any(|m| m.user.as_ref().is_some_and(|u| u.id == **id))
                    })
                    .copied()
                    .collect(),
            ),
            MemberQuery::Prefix(_) => None,
        };
        let with_presences =
            request.presences == Some(true) && intents.contains(Intents::GUILD_PRESENCES);
        let chunks: Vec<_> = if members.is_empty() {
            vec![Vec::new()]
        } else {
            members.chunks(CHUNK).map(<[_]>::to_vec).collect()
        };
        let count = chunks.len() as u32;
        for (index, members) in chunks.into_iter().enumerate() {
            let presences = if with_presences {
                let ids: Vec<Snowflake> = members
                    .iter()
                    .filter_map(|m| m.user.as_ref().map(|u| u.id))
                    .collect();
                let found = self
                    .inner
                    .stores
                    .presence
                    .get_many(&ids)
                    .await
                    .unwrap_or_default();
                Some(
                    found
                        .iter()
                        .map(|(id, p)| presence_update(*id, p))
                        .collect(),
                )
            } else {
                None
            };
            let chunk = GuildMembersChunk {
                guild_id: request.guild_id,
                members,
                chunk_index: index as u32,
                chunk_count: count,
                not_found: if index == 0 { not_found.clone() } else { None },
                presences,
                nonce: request.nonce.clone().filter(|n| n.len() <= 32),
            };
            let data = serde_json::to_string(&chunk).unwrap_or_else(|_| "{}".into());
            self.dispatch_now("GUILD_MEMBERS_CHUNK", &data, 0).await?;
        }
        self.flush().await
    }

    /// Sends events from the queue, batching what is ready: the batch is
    /// numbered, logged in one store call, then written and flushed once.
    async fn write_events(&mut self, first: Arc<Prepared>) -> Result<(), ()> {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match self.live.as_mut().map(|l| l.events.try_recv()) {
                Some(Ok(event)) => batch.push(event),
                _ => break,
            }
        }
        let mut frames = Vec::with_capacity(batch.len());
        let mut logged = Vec::with_capacity(batch.len());
        for event in batch {
            if self.is_duplicate(&event) {
                continue;
            }
            let frame = self.proto.dispatch(&event.name, &event.data);
            logged.push((self.proto.seq(), format!("{:016x}{frame}", event.id)));
            frames.push(frame);
        }
        if let Some(live) = self.live.as_ref()
            && !logged.is_empty()
            && let Err(e) = self
                .inner
                .stores
                .sessions
                .append_many(&live.handle.session_id, &logged, self.session_ttl())
                .await
        {
            tracing::warn!("replay log append failed: {e}");
        }
        for frame in frames {
            self.send_text(frame).await?;
        }
        if let Some(live) = self.live.as_mut()
            && live.events.is_empty()
        {
            live.dedup = HashSet::new();
        }
        self.flush().await
    }

    fn is_duplicate(&mut self, event: &Prepared) -> bool {
        self.live
            .as_mut()
            .is_some_and(|l| !l.dedup.is_empty() && l.dedup.remove(&event.id))
    }

    /// Numbers, logs and writes (unflushed) one dispatch.
    async fn dispatch_now(&mut self, name: &str, data: &str, id: u64) -> Result<(), ()> {
        let frame = self.log(name, data, id).await;
        self.send_text(frame).await
    }

    /// Numbers a dispatch and appends it to the session's replay log (every
    /// dispatch but READY, which a resuming client has by definition: the
    /// session ID comes from it).
    async fn log(&mut self, name: &str, data: &str, id: u64) -> String {
        let frame = self.proto.dispatch(name, data);
        if let Some(live) = self.live.as_ref() {
            let logged = format!("{id:016x}{frame}");
            let ttl = self.session_ttl();
            if let Err(e) = self
                .inner
                .stores
                .sessions
                .append(&live.handle.session_id, self.proto.seq(), &logged, ttl)
                .await
            {
                tracing::warn!("replay log append failed: {e}");
            }
        }
        frame
    }

    async fn send_text(&mut self, frame: String) -> Result<(), ()> {
        let Some(socket) = self.socket.as_mut() else {
            return Err(());
        };
        let message = match self.encoder.as_mut() {
            Some(encoder) => match encoder.encode(frame.as_bytes()) {
                Ok(bytes) => Message::Binary(bytes.into()),
                Err(_) => return Err(()),
            },
            None => Message::Text(frame.into()),
        };
        socket.feed(message).await.map_err(|_| ())
    }

    async fn flush(&mut self) -> Result<(), ()> {
        match self.socket.as_mut() {
            Some(socket) => socket.flush().await.map_err(|_| ()),
            None => Err(()),
        }
    }

    async fn close(&mut self, code: CloseCode, reason: &str) {
        if let Some(mut socket) = self.socket.take() {
            let _ = socket.send(close_message(code, reason)).await;
        }
    }

    /// Hands the session over: logs what is queued, records the last
    /// sequence number, leaves the hub and tells the new owner.
    async fn release(&mut self, reply: ReleaseReply) {
        self.drain_to_log().await;
        if let Some(record) = self.record(Some(None)) {
            let _ = self
                .inner
                .stores
                .sessions
                .save(&record, self.session_ttl())
                .await;
        }
        let Some(live) = self.live.take() else { return };
        self.inner.hub.unregister(self.conn);
        self.inner.released(&live.handle.session_id, reply).await;
    }

    /// Logs every queued and spilled event.
    async fn drain_to_log(&mut self) {
        loop {
            let next = self.live.as_mut().and_then(|l| l.events.try_recv().ok());
            let Some(event) = next else { break };
            if !self.is_duplicate(&event) {
                self.log(&event.name, &event.data, event.id).await;
            }
        }
        let spill = self
            .live
            .as_ref()
            .map(|l| l.handle.take_spill())
            .unwrap_or_default();
        for event in spill {
            if !self.is_duplicate(&event) {
                self.log(&event.name, &event.data, event.id).await;
            }
        }
    }

    /// Without a socket: keep the replay log current until the session is
    /// resumed (released to the resuming connection) or its window ends.
    async fn detached(&mut self) {
        self.drain_to_log().await;
        if let Some(record) = self.record(None)
            && let Err(e) = self
                .inner
                .stores
                .sessions
                .save(&record, self.session_ttl())
                .await
        {
            tracing::warn!("saving a detached session failed: {e}");
        }
        let deadline = tokio::time::Instant::now() + self.inner.config.resume_window;
        loop {
            let Some(live) = self.live.as_mut() else {
                return;
            };
            let handle = Arc::clone(&live.handle);
            tokio::select! {
                biased;
                control = handle.next_control() => match control {
                    Control::Release(reply) => {
                        self.release(reply).await;
                        return;
                    }
                    Control::Overflow | Control::Reconnect => {}
                },
                event = live.events.recv() => match event {
                    Some(event) => {
                        if !self.is_duplicate(&event) {
                            self.log(&event.name, &event.data, event.id).await;
                        }
                    }
                    None => break,
                },
                _ = handle.spilled.notified() => self.drain_to_log().await,
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        self.finish().await;
    }

    /// The session is over: forget it, mark the user offline, leave voice.
    async fn finish(&mut self) {
        let Some(live) = self.live.take() else { return };
        let inner = Arc::clone(&self.inner);
        let guilds = inner.hub.guilds_of(self.conn);
        inner.hub.unregister(self.conn);
        let _ = inner.stores.sessions.delete(&live.handle.session_id).await;
        let user = live.user.id;
        let _ = inner.stores.presence.remove(user).await;
        inner.announce_presence(offline(user), &guilds).await;
        if let Some(voice) = &inner.voice {
            let session = VoiceSession {
                session_id: live.handle.session_id.clone(),
                user_id: user,
            };
            voice.session_ended(&session).await;
        }
        let _ = self.compression;
    }
}

/// Splits a replay-log entry into the event ID and the frame.
fn split_logged(payload: &str) -> (u64, &str) {
    match (payload.get(..16), payload.get(16..)) {
        (Some(id), Some(frame)) => (u64::from_str_radix(id, 16).unwrap_or(0), frame),
        _ => (0, payload),
    }
}

fn on_shard(shard: Option<[u32; 2]>, guild: Snowflake) -> bool {
    match shard {
        None => true,
        Some([id, count]) => (guild.get() >> 22) % u64::from(count) == u64::from(id),
    }
}

fn presence_record(update: &UpdatePresence) -> PresenceRecord {
    PresenceRecord {
        status: update.status,
        activities: update.activities.clone(),
        client_status: Default::default(),
    }
}

fn presence_update(user: Snowflake, p: &PresenceRecord) -> PresenceUpdate {
    PresenceUpdate {
        user: PresenceUser {
            id: user,
            rest: serde_json::Map::new(),
        },
        guild_id: None,
        status: p.status,
        activities: p.activities.clone(),
        client_status: p.client_status,
    }
}
