//! The voice signaling WebSocket: HELLO, IDENTIFY (checked against the
//! token from VOICE_SERVER_UPDATE), READY, the SDP exchange, heartbeats,
//! RESUME, and the close codes of Discord's voice gateway.
//!
//! A dropped connection leaves the participant's media running for
//! [`VoiceConfig::resume_window`](crate::VoiceConfig::resume_window); a
//! RESUME with the same token within it picks the participant up again.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use discord_proto::ProtoError;
use discord_proto::voice::{SdpKind, VoiceCloseCode, VoiceHello, VoicePayload, VoiceReady};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::error::VoiceError;
use crate::service::Voice;
use crate::sfu::{Flags, Joining, Outbound, Participant};

/// Largest signaling message accepted (SDP with many media sections fits).
const MAX_MESSAGE: usize = 256 * 1024;

impl Voice {
    /// The routes serving voice signaling at `path` (e.g. `"/voice"`), with
    /// or without a trailing slash.
    pub fn router<S>(&self, path: &str) -> Router<S> {
        let path = path.trim_end_matches('/');
        let path = if path.is_empty() { "/" } else { path };
        let mut router = Router::new().route(path, get(upgrade));
        if path != "/" {
            router = router.route(&format!("{path}/"), get(upgrade));
        }
        router.with_state(self.clone())
    }
}

async fn upgrade(State(voice): State<Voice>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| run(voice, socket))
}

fn close(code: VoiceCloseCode, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code: code.code(),
        reason: reason.into(),
    }))
}

/// Why the loop stops.
enum Stop {
    /// Close with this code.
    Close(VoiceCloseCode, String),
}

impl From<VoiceError> for Stop {
    fn from(e: VoiceError) -> Stop {
        Stop::Close(e.close_code(), e.to_string())
    }
}

struct Connection {
    voice: Voice,
    tx: mpsc::UnboundedSender<Outbound>,
    participant: Option<Arc<Participant>>,
}

async fn run(voice: Voice, mut socket: WebSocket) {
    let interval = voice.inner.config.heartbeat_interval;
    let hello = VoicePayload::Hello(VoiceHello {
        heartbeat_interval: interval.as_secs_f64() * 1000.0,
    });
    if socket
        .send(Message::Text(hello.to_json().into()))
        .await
        .is_err()
    {
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<Outbound>();
    let mut conn = Connection {
        voice,
        tx,
        participant: None,
    };
    let patience = interval + interval / 2;
    let mut deadline = Instant::now() + patience;
    let stop: Option<Stop> = loop {
        tokio::select! {
            frame = socket.recv() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let payload = match VoicePayload::from_json(text.as_str()) {
                        Ok(p) => p,
                        Err(e @ ProtoError::UnknownOpcode(_)) => {
                            break Some(Stop::Close(VoiceCloseCode::UnknownOpcode, e.to_string()));
                        }
                        Err(e) => break Some(Stop::Close(VoiceCloseCode::DecodeError, e.to_string())),
                    };
                    if matches!(payload, VoicePayload::Heartbeat(_)) {
                        deadline = Instant::now() + patience;
                    }
                    match conn.handle(payload).await {
                        Ok(replies) => {
                            let mut failed = false;
                            for reply in replies {
                                failed |= socket.send(Message::Text(reply.to_json().into())).await.is_err();
                            }
                            if failed {
                                break None;
                            }
                        }
                        Err(stop) => break Some(stop),
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    break Some(Stop::Close(VoiceCloseCode::DecodeError, "binary frames are not used".into()));
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break None,
                Some(Ok(_)) => {}
            },
            out = rx.recv() => match out {
                Some(Outbound::Payload(p)) => {
                    if socket.send(Message::Text(p.to_json().into())).await.is_err() {
                        break None;
                    }
                }
                Some(Outbound::Close(code)) => {
                    // The SFU ended the participation (left, moved, kicked).
                    conn.participant = None;
                    break Some(Stop::Close(code, "disconnected".into()));
                }
                None => break None,
            },
            _ = tokio::time::sleep_until(deadline) => {
                break Some(Stop::Close(VoiceCloseCode::SessionTimeout, "no heartbeat".into()));
            }
        }
    };
    if let Some(Stop::Close(code, reason)) = stop {
        let _ = socket.send(close(code, &reason)).await;
        if !code.can_reconnect()
            && let Some(p) = conn.participant.take()
        {
            conn.voice.inner.sfu.leave(&p).await;
        }
    }
    // A dropped connection may be resumed for a while.
    if let Some(p) = conn.participant.take() {
        p.detach(&conn.tx);
        let voice = conn.voice.clone();
        let window = voice.inner.config.resume_window;
        tokio::spawn(async move {
            tokio::time::sleep(window).await;
            if !p.attached() {
                voice.inner.sfu.leave(&p).await;
            }
        });
    }
}

fn stop(code: VoiceCloseCode, reason: &str) -> Stop {
    Stop::Close(code, reason.into())
}

impl Connection {
    /// Handles one payload; returns the replies to send now.
    async fn handle(&mut self, payload: VoicePayload) -> Result<Vec<VoicePayload>, Stop> {
        match payload {
            VoicePayload::Heartbeat(h) => Ok(vec![VoicePayload::HeartbeatAck(h)]),
            VoicePayload::Identify(id) => {
                if self.participant.is_some() {
                    return Err(stop(
                        VoiceCloseCode::AlreadyAuthenticated,
                        "already identified",
                    ));
                }
                let (grant, state) = self
                    .voice
                    .grant(&id.token)
                    .await
                    .filter(|(g, _)| {
                        g.user_id == id.user_id
                            && g.guild_id == id.server_id
                            && g.session_id == id.session_id
                    })
                    .ok_or(VoiceError::AuthenticationFailed)?;
                let access = self
                    .voice
                    .access(&grant)
                    .await
                    .map_err(|_| VoiceError::AuthenticationFailed)?;
                if !self.voice.hosts(grant.channel_id, &access) {
                    return Err(VoiceError::WrongNode.into());
                }
                let base = Flags::of(&state);
                let joining = Joining {
                    channel_id: grant.channel_id,
                    user_id: grant.user_id,
                    session_id: grant.session_id.clone(),
                    token: id.token.clone(),
                    user_limit: access.user_limit,
                    flags: base,
                    can_speak: access.can_speak,
                };
                let participant = self.voice.inner.sfu.join(joining, self.tx.clone()).await?;
                // A flag change made between reading the state and joining
                // found no participant to apply to: read again.
                if let Some(now) = self
                    .voice
                    .current_flags(grant.guild_id, grant.user_id)
                    .await
                    .filter(|f| *f != base)
                {
                    self.voice
                        .inner
                        .sfu
                        .set_flags(grant.channel_id, grant.user_id, now);
                }
                let ready = VoicePayload::Ready(VoiceReady {
                    ssrc: participant.ssrc,
                    modes: vec!["webrtc".into()],
                    channel_id: grant.channel_id,
                });
                self.participant = Some(participant);
                Ok(vec![ready])
            }
            VoicePayload::Resume(r) => {
                if self.participant.is_some() {
                    return Err(stop(
                        VoiceCloseCode::AlreadyAuthenticated,
                        "already identified",
                    ));
                }
                let participant = self
                    .voice
                    .verify(&r.token)
                    .filter(|g| g.guild_id == r.server_id && g.session_id == r.session_id)
                    .and_then(|g| self.voice.inner.sfu.participant(g.channel_id, g.user_id))
                    .filter(|p| p.token == r.token && p.session_id == r.session_id)
                    .ok_or(VoiceError::SessionNoLongerValid)?;
                participant.attach(self.tx.clone()).await;
                self.participant = Some(participant);
                Ok(vec![VoicePayload::Resumed])
            }
            other => {
                let Some(p) = self.participant.clone() else {
                    return Err(stop(VoiceCloseCode::NotAuthenticated, "identify first"));
                };
                match other {
                    VoicePayload::SelectProtocol(sp) => {
                        if sp.protocol != "webrtc" {
                            return Err(VoiceError::UnknownProtocol(sp.protocol).into());
                        }
                        if sp.data.kind != SdpKind::Offer {
                            return Err(VoiceError::BadSdp(
                                "SELECT_PROTOCOL carries an offer".into(),
                            )
                            .into());
                        }
                        p.accept_offer(sp.data.sdp).await?;
                        Ok(Vec::new())
                    }
                    VoicePayload::SessionDescription(d) => {
                        if d.kind != SdpKind::Answer {
                            return Err(VoiceError::BadSdp(
                                "after SELECT_PROTOCOL only the server offers".into(),
                            )
                            .into());
                        }
                        p.accept_answer(d.sdp).await?;
                        Ok(Vec::new())
                    }
                    VoicePayload::IceCandidate(c) => {
                        p.add_candidate(c).await?;
                        Ok(Vec::new())
                    }
                    // The SFU derives speaking from the audio itself.
                    VoicePayload::Speaking(_) => Ok(Vec::new()),
                    _ => Err(stop(
                        VoiceCloseCode::UnknownOpcode,
                        "not an opcode a client sends",
                    )),
                }
            }
        }
    }
}
