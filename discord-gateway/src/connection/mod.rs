//! The thin async loop around [`Protocol`]: one task per connection reads
//! the WebSocket, writes events (through the replay log first, so whatever
//! a client saw can be replayed), runs the identify and resume flows, and
//! after a drop keeps the session's log current until it is resumed, here
//! or on another node, or its resume window ends. While the task waits, it
//! lends its socket to the writer tasks (`crate::writer`), which write its
//! events without waking it; it takes the socket back whenever it wakes.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use discord_proto::Snowflake;
use discord_proto::compression::Encoder;
use discord_proto::gateway::{CloseCode, Intents, PresenceUpdate, PresenceUser, UpdatePresence};
use discord_store::presence::PresenceRecord;
use discord_store::session::SessionRecord;
use futures::future::Either;
use smallvec::SmallVec;

use crate::data::{AuthError, MemberQuery, VoiceSession};
use crate::frame;
use crate::gateway::{Accept, Inner, offline};
use crate::hub::{Control, Prepared, ReleaseReply, SessionHandle, on_shard};
use crate::logged;
use crate::protocol::{Protocol, Step};
use crate::socket::{Incoming, OutFrame, Socket};
use crate::view::GuildView;
use crate::writer::{BATCH, Left, compressed_frame, dispatch_frame};

mod commands;
mod detach;
mod start;

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
///
/// Not an `async fn`: the connection is set up before the future is made,
/// so the future (the task's memory for as long as the session idles) holds
/// the connection once and its serving loop, not also the arguments it was
/// built from and the refusal path.
pub(crate) fn run(
    inner: Arc<Inner>,
    socket: Socket,
    accept: Accept,
) -> impl Future<Output = ()> + Send {
    let compression = match accept {
        Accept::Open(c) => c,
        Accept::Refuse(code, reason) => return Either::Left(refuse(socket, code, reason)),
    };
    let Ok(encoder) = compression
        .map(|c| Encoder::new(c).map(Box::new))
        .transpose()
    else {
        return Either::Left(refuse(
            socket,
            CloseCode::UnknownError,
            "compression unavailable",
        ));
    };
    inner.live.fetch_add(1, Ordering::AcqRel);
    let guard = LiveGuard(Arc::clone(&inner));
    let conn = inner.next_conn();
    let proto = Protocol::new(Arc::clone(&inner.limits), Instant::now());
    let mut c = Conn {
        inner,
        conn,
        socket: Some(socket),
        out: Vec::new(),
        encoder,
        proto,
        live: None,
    };
    Either::Right(async move {
        let _guard = guard;
        c.serve().await;
    })
}

/// Closes a connection refused before its session began.
async fn refuse(mut socket: Socket, code: CloseCode, reason: &'static str) {
    let _ = socket.close(code.get(), reason).await;
}

/// A session's state once IDENTIFY or RESUME succeeded.
struct Live {
    handle: Arc<SessionHandle>,
    presence: PresenceRecord,
    /// After a RESUME: IDs of replayed events, so the same events queued
    /// during the hand-over are not sent twice.
    /// (Boxed when there is one: empty for all but the moments after a
    /// RESUME, and an empty set inline is 48 bytes of every session.)
    #[expect(
        clippy::box_collection,
        reason = "the box is the point: 8 bytes per idle session instead of 48"
    )]
    dedup: Option<Box<HashSet<u64>>>,
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
    socket: Option<Socket>,
    /// Frames made since the last flush.
    out: Vec<OutFrame<'static>>,
    /// Boxed: most connections have none, and the connection's state is
    /// its memory while it idles.
    encoder: Option<Box<Encoder>>,
    proto: Protocol,
    live: Option<Live>,
}

/// Waits until a live session has something to do besides its socket and
/// timer (see [`SessionHandle::wait_input`]).
async fn wait_input(live: &Option<Live>) {
    match live {
        Some(l) => l.handle.wait_input().await,
        None => std::future::pending().await,
    }
}

impl Conn {
    async fn serve(&mut self) {
        let hello = self.proto.hello();
        if self.send_text(hello).is_err() || self.flush().await.is_err() {
            return;
        }
        match self.connected().await {
            Ended::Finished => Box::pin(self.finish()).await,
            Ended::Released => {}
            Ended::Detached => Box::pin(self.detached()).await,
        }
    }

    /// The connected phase: socket, timers, events and control.
    ///
    /// Rare or slow paths (closing, protocol steps, a release) are boxed:
    /// an idle session's task is as large as this future's largest state,
    /// so inline they would cost every idle session their size.
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
            // While it waits, the writers write its events.
            self.lend();
            let Some(socket) = self.socket.as_mut() else {
                return self.ended_without_socket();
            };
            tokio::select! {
                biased;
                () = wait_input(&self.live) => {
                    if self.take_back().await.is_err() {
                        return self.ended_without_socket();
                    }
                    let Some(live) = self.live.as_ref() else { continue };
                    match live.handle.next_control() {
                        Some(Control::Release(reply)) => {
                            Box::pin(self.close(CloseCode::UnknownError, "session resumed on another connection")).await;
                            Box::pin(self.release(reply)).await;
                            return Ended::Released;
                        }
                        Some(Control::Overflow) => {
                            Box::pin(self.close(CloseCode::UnknownError, "too slow: resume to catch up")).await;
                            return Ended::Detached;
                        }
                        Some(Control::Reconnect) => {
                            let frame = discord_proto::gateway::ServerMessage::Reconnect.encode();
                            let _ = self.send_text(frame);
                            let _ = self.flush().await;
                            Box::pin(self.close(CloseCode::UnknownError, "node shutting down: resume")).await;
                            return self.ended_without_socket();
                        }
                        None => {
                            // Boxed: the write's state (a batch's frames
                            // and slices) lives only while a batch is
                            // written.
                            if Box::pin(self.write_events()).await.is_err() {
                                self.socket = None;
                                return self.ended_without_socket();
                            }
                        }
                    }
                },
                message = socket.recv() => {
                    if self.take_back().await.is_err() {
                        return self.ended_without_socket();
                    }
                    let bytes = match message {
                        Some(Ok(Incoming::Text(bytes) | Incoming::Binary(bytes))) => bytes,
                        Some(Ok(Incoming::Ping(_) | Incoming::Pong)) => continue,
                        Some(Ok(Incoming::Close(code))) => {
                            let code = code.unwrap_or(1005);
                            // The close's answer, if the socket takes it
                            // now (it was not written while lent).
                            if let Some(socket) = self.socket.as_mut() {
                                socket.try_flush_control();
                            }
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
                            Box::pin(self.close(CloseCode::DecodeError, "payload too large or malformed")).await;
                            return self.ended_without_socket();
                        }
                        None => {
                            self.socket = None;
                            return self.ended_without_socket();
                        }
                    };
                    let beat = self.proto.last_heartbeat();
                    let step = self.proto.receive(&bytes, Instant::now());
                    if self.proto.last_heartbeat() != beat
                        && let Some(encoder) = self.encoder.as_mut()
                    {
                        // An idle connection's compressor is let go
                        // between heartbeats (the ACK then needs none).
                        encoder.release_if_idle();
                    }
                    if let Some(end) = Box::pin(self.step(step, true)).await {
                        return end;
                    }
                }
                _ = &mut timer => {
                    if self.take_back().await.is_err() {
                        return self.ended_without_socket();
                    }
                    let step = self.proto.tick(Instant::now());
                    if let Some(end) = Box::pin(self.step(step, false)).await {
                        return end;
                    }
                }
            }
        }
    }

    /// Lends the socket, with the connection's compressor if it has one,
    /// to the writers if they can write it: a live session on TCP with
    /// nothing of its own waiting to be written, and no RESUME hand-over
    /// under way.
    fn lend(&mut self) {
        let (Some(live), Some(socket)) = (self.live.as_ref(), self.socket.as_mut()) else {
            return;
        };
        if !self.out.is_empty() || live.dedup.is_some() || socket.has_control() {
            return;
        }
        let Some(stream) = socket.tcp() else {
            return;
        };
        live.handle
            .lend(self.proto.seq(), stream, self.encoder.take());
        socket.set_lent(true);
    }

    /// Takes the socket back from the writers, if it was lent. What a
    /// writer could not write is written first; a writer's failed write
    /// ends the socket (`Err`).
    async fn take_back(&mut self) -> Result<(), ()> {
        let (Some(live), Some(socket)) = (self.live.as_ref(), self.socket.as_mut()) else {
            return Ok(());
        };
        socket.set_lent(false);
        let Some(returned) = live.handle.take_back().await else {
            return Ok(());
        };
        self.proto.set_seq(returned.seq);
        // Lent with the socket (`lend` took it), so it comes back with it.
        self.encoder = returned.encoder;
        match returned.left {
            Left::Nothing => Ok(()),
            Left::Unwritten(bytes) => {
                socket.unwritten_first(bytes);
                Ok(())
            }
            Left::Failed => {
                self.socket = None;
                Err(())
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
                if self.send_text(frame).is_err() || self.flush().await.is_err() {
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
            .set(
                live.handle.user_id,
                &live.presence,
                self.inner.config.presence_ttl,
            )
            .await
        {
            tracing::warn!("presence refresh failed: {e}");
        }
    }

    fn session_ttl(&self) -> std::time::Duration {
        self.inner.session_ttl()
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
        user_id: Snowflake,
        intents: Intents,
        shard: Option<[u32; 2]>,
        presence: PresenceRecord,
    ) -> Live {
        let handle = Arc::new(SessionHandle::new(
            self.conn,
            session_id,
            user_id,
            intents,
            shard,
            self.inner.config.outbound_queue,
        ));
        Live {
            handle,
            presence,
            dedup: None,
            last_refresh: Instant::now(),
        }
    }

    /// Sends events from the queue, batching what is ready: the batch is
    /// numbered, logged in one store call, then written and flushed once.
    async fn write_events(&mut self) -> Result<(), ()> {
        let Some(live) = self.live.as_ref() else {
            return Ok(());
        };
        // Inline up to a typical batch: this future is boxed once per
        // write, and its lists come with it instead of apart.
        let mut batch: SmallVec<[Arc<Prepared>; 16]> = SmallVec::new();
        live.handle.take_events(BATCH, &mut batch);
        let mut numbered: SmallVec<[(u64, Arc<Prepared>); 16]> = SmallVec::new();
        let mut logged = Vec::with_capacity(batch.len());
        for event in batch {
            if self.is_duplicate(&event) {
                continue;
            }
            let seq = self.proto.next_seq();
            logged.push((seq, Arc::clone(event.entry())));
            numbered.push((seq, event));
        }
        if let Some(live) = self.live.as_ref()
            && !logged.is_empty()
            && let Err(e) = self
                .inner
                .stores
                .sessions
                .append_many(&live.handle.session_id, logged, self.session_ttl())
                .await
        {
            tracing::warn!("replay log append failed: {e}");
        }
        self.out.reserve(numbered.len());
        for (seq, event) in numbered {
            self.send_event(seq, event)?;
        }
        if let Some(live) = self.live.as_mut()
            && live.handle.no_events()
        {
            live.dedup = None;
        }
        self.flush_events().await
    }

    /// Writes queued events, giving way to a control message: a client
    /// that stops reading fills its socket, and a write to it waits for as
    /// long as it does not read. Its queue then overflows, or it resumes on
    /// another connection, and the control message saying so must not wait
    /// behind that write. The interrupted write may have left part of a
    /// frame on the socket, so the socket is dropped (the client sees the
    /// connection end, 1006, and resumes); what was queued is already in
    /// the replay log.
    async fn flush_events(&mut self) -> Result<(), ()> {
        let (Some(live), Some(socket)) = (self.live.as_ref(), self.socket.as_mut()) else {
            return self.flush().await;
        };
        let handle = Arc::clone(&live.handle);
        tokio::select! {
            biased;
            written = socket.write(&mut self.out) => written.map_err(|_| ()),
            () = handle.control_waiting() => {
                tracing::debug!(conn = self.conn, "write interrupted by a control message");
                self.out = Vec::new();
                Err(())
            }
        }
    }

    fn is_duplicate(&mut self, event: &Prepared) -> bool {
        self.live
            .as_mut()
            .and_then(|l| l.dedup.as_mut())
            .is_some_and(|d| d.remove(&event.id))
    }

    /// Numbers, logs and writes (unflushed) one dispatch.
    async fn dispatch_now(&mut self, name: &str, data: &str, id: u64) -> Result<(), ()> {
        let frame = self.log(name, data, id).await;
        self.send_text(frame)
    }

    /// Numbers a dispatch and appends it to the session's replay log (every
    /// dispatch but READY, which a resuming client has by definition: the
    /// session ID comes from it).
    async fn log(&mut self, name: &str, data: &str, id: u64) -> String {
        let frame = self.proto.dispatch(name, data);
        self.append_log(logged::dispatch(id, name, data).into())
            .await;
        frame
    }

    /// Numbers a fanned-out event and logs it without sending it (the
    /// session has no socket, or is being handed over).
    async fn log_only(&mut self, event: &Prepared) {
        self.proto.next_seq();
        self.append_log(Arc::clone(event.entry())).await;
    }

    /// Appends `entry` to the replay log at the current sequence number.
    async fn append_log(&mut self, entry: Arc<str>) {
        let Some(live) = self.live.as_ref() else {
            return;
        };
        if let Err(e) = self
            .inner
            .stores
            .sessions
            .append(
                &live.handle.session_id,
                self.proto.seq(),
                entry,
                self.session_ttl(),
            )
            .await
        {
            tracing::warn!("replay log append failed: {e}");
        }
    }

    /// Queues a fanned-out event numbered `seq`. Uncompressed, the frame
    /// is written around the event's data, shared with every session that
    /// receives it: only the envelope is this session's own.
    fn send_event(&mut self, seq: u64, event: Arc<Prepared>) -> Result<(), ()> {
        if self.socket.is_none() {
            return Err(());
        }
        let frame = match self.encoder.as_deref_mut() {
            Some(encoder) => compressed_frame(encoder, seq, &event).map_err(|_| ())?,
            None => dispatch_frame(seq, event),
        };
        self.out.push(frame);
        Ok(())
    }

    /// Queues a frame for the next [`flush`](Self::flush), compressed if
    /// the connection asked for it.
    fn send_text(&mut self, frame: String) -> Result<(), ()> {
        if self.socket.is_none() {
            return Err(());
        }
        let frame = match self.encoder.as_mut() {
            Some(encoder) => match encoder.encode(frame.as_bytes()) {
                Ok(bytes) => OutFrame::binary(bytes),
                Err(_) => return Err(()),
            },
            None => OutFrame::text(frame),
        };
        self.out.push(frame);
        Ok(())
    }

    /// Writes the queued frames.
    async fn flush(&mut self) -> Result<(), ()> {
        match self.socket.as_mut() {
            Some(socket) => socket.write(&mut self.out).await.map_err(|_| ()),
            None => Err(()),
        }
    }

    /// Writes what is queued, then closes with `code`.
    async fn close(&mut self, code: CloseCode, reason: &str) {
        if let Some(mut socket) = self.socket.take() {
            if !self.out.is_empty() {
                let _ = socket.write(&mut self.out).await;
            }
            let _ = socket.close(code.get(), reason).await;
        }
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
