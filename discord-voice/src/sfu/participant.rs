//! One participant: its peer connection, its signaling outbox, its flags,
//! and the offer/answer exchanges with its client.
//!
//! The client makes the first offer (SELECT_PROTOCOL). After that only the
//! SFU offers: whenever tracks are added to or removed from what the
//! participant receives, one offer at a time; changes made while an offer
//! is out are sent in the next one, after the client's answer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use discord_proto::Snowflake;
use discord_proto::model::VoiceState;
use discord_proto::voice::{IceCandidate, SdpData, SdpKind, VoicePayload, media};
use tokio::sync::{mpsc, watch};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCIceCandidateInit, RTCIceGatheringState, RTCPeerConnectionState, RTCSessionDescription,
    Registry, register_default_interceptors,
};
use webrtc::rtp_transceiver::RtpSender;
use webrtc::runtime::TokioRuntime;

use super::{Joining, Outbound, Room};
use crate::config::VoiceConfig;
use crate::error::{Result, VoiceError};

/// A participant's mute and deafen state as its voice state has it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// Self-muted or server-muted: audio is dropped.
    pub muted: bool,
    /// Self-deafened or server-deafened: no audio is sent to them.
    pub deafened: bool,
}

impl Flags {
    /// The flags a voice state says.
    pub fn of(state: &VoiceState) -> Flags {
        Flags {
            muted: state.self_mute || state.mute,
            deafened: state.self_deaf || state.deaf,
        }
    }
}

/// [`Flags`] shared with the forwarding loops, plus whether the
/// participant may speak at all (SPEAK, fixed when it joined): without it
/// its audio is dropped whatever the flags say.
#[derive(Debug)]
pub(crate) struct SharedFlags {
    muted: AtomicBool,
    deafened: AtomicBool,
    can_speak: bool,
}

impl SharedFlags {
    fn new(flags: Flags, can_speak: bool) -> SharedFlags {
        SharedFlags {
            muted: AtomicBool::new(flags.muted),
            deafened: AtomicBool::new(flags.deafened),
            can_speak,
        }
    }
    pub(crate) fn set(&self, flags: Flags) {
        self.muted.store(flags.muted, Ordering::Release);
        self.deafened.store(flags.deafened, Ordering::Release);
    }
    pub(crate) fn muted(&self) -> bool {
        !self.can_speak || self.muted.load(Ordering::Acquire)
    }
    pub(crate) fn deafened(&self) -> bool {
        self.deafened.load(Ordering::Acquire)
    }
}

#[derive(Debug, Default)]
struct Negotiation {
    /// The client's first offer has been answered.
    ready: bool,
    /// An SFU offer awaits the client's answer.
    offer_out: bool,
    /// Something changed while an offer was out.
    dirty: bool,
}

/// One participant of a voice channel on this node.
pub(crate) struct Participant {
    pub(crate) user_id: Snowflake,
    pub(crate) session_id: String,
    pub(crate) token: String,
    /// The SSRC READY suggests for the client's audio.
    pub(crate) ssrc: u32,
    pub(crate) flags: Arc<SharedFlags>,
    pub(crate) pc: Arc<dyn PeerConnection>,
    room: Weak<Room>,
    out: Mutex<Option<mpsc::UnboundedSender<Outbound>>>,
    negotiation: tokio::sync::Mutex<Negotiation>,
    gathered: watch::Receiver<bool>,
    /// Senders of the tracks this participant receives, by published-track id.
    pub(crate) receiving: Mutex<HashMap<u64, Arc<dyn RtpSender>>>,
    pub(crate) closed: AtomicBool,
    /// The RTP header extension ID the client's audio levels (RFC 6464)
    /// arrive under; 0 when it sends none.
    pub(crate) audio_level_id: Arc<AtomicU8>,
}

impl std::fmt::Debug for Participant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Participant")
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// The peer connection's events, routed to its participant.
struct Handler {
    participant: OnceLock<Weak<Participant>>,
    gathered: watch::Sender<bool>,
}

#[async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.gathered.send_replace(true);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        tracing::debug!(?state, "voice peer connection state");
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        if let Some(p) = self.participant.get().cloned() {
            tokio::spawn(super::forward::run(p, track));
        }
    }
}

/// The codecs and interceptors every SFU peer connection uses: the
/// default codecs (Opus; VP8, VP9, H.264, AV1), NACK in both directions,
/// receiver-side TWCC, RTCP reports, and keyframe requests surfaced to the
/// SFU.
fn media() -> Result<(MediaEngine, Registry)> {
    let mut engine = MediaEngine::default();
    engine.register_default_codecs()?;
    discord_proto::voice::media::register_audio_level(&mut engine)?;
    let registry = register_default_interceptors(Registry::new(), &mut engine)?;
    let registry = registry.with(
        rtc::interceptor::Slot::from(14_000),
        discord_proto::voice::media::KeyframeRequests::default(),
    );
    Ok((engine, registry))
}

impl Participant {
    pub(crate) async fn new(
        config: &VoiceConfig,
        room: &Arc<Room>,
        joining: Joining,
        out: mpsc::UnboundedSender<Outbound>,
    ) -> Result<Arc<Participant>> {
        let (engine, registry) = media()?;
        let (gathered_tx, gathered) = watch::channel(false);
        let handler = Arc::new(Handler {
            participant: OnceLock::new(),
            gathered: gathered_tx,
        });
        let pc = PeerConnectionBuilder::new()
            .with_media_engine(engine)
            .with_interceptor_registry(registry)
            .with_handler(handler.clone())
            .with_runtime(Arc::new(TokioRuntime))
            .with_udp_addrs(vec![format!("{}:0", config.media_ip)])
            .build()
            .await?;
        let flags = Arc::new(SharedFlags::new(joining.flags, joining.can_speak));
        let participant = Arc::new(Participant {
            user_id: joining.user_id,
            session_id: joining.session_id,
            token: joining.token,
            ssrc: rand::random::<u32>() | 1,
            flags,
            pc: Arc::new(pc),
            room: Arc::downgrade(room),
            out: Mutex::new(Some(out)),
            negotiation: tokio::sync::Mutex::new(Negotiation::default()),
            gathered,
            receiving: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
            audio_level_id: Arc::new(AtomicU8::new(0)),
        });
        let _ = handler.participant.set(Arc::downgrade(&participant));
        Ok(participant)
    }

    pub(crate) fn room(&self) -> Option<Arc<Room>> {
        self.room.upgrade()
    }

    /// Sends to the participant's signaling connection, if one is attached.
    pub(crate) fn send(&self, message: Outbound) {
        if let Some(out) = &*self.out.lock().expect("outbox lock") {
            let _ = out.send(message);
        }
    }

    /// Detaches a dropped signaling connection (media goes on).
    pub(crate) fn detach(&self, out: &mpsc::UnboundedSender<Outbound>) {
        let mut slot = self.out.lock().expect("outbox lock");
        if slot.as_ref().is_some_and(|o| o.same_channel(out)) {
            *slot = None;
        }
    }

    /// Whether a signaling connection is attached.
    pub(crate) fn attached(&self) -> bool {
        self.out.lock().expect("outbox lock").is_some()
    }

    /// Attaches a resumed signaling connection; re-sends an offer that may
    /// have been lost with the old one.
    pub(crate) async fn attach(&self, out: mpsc::UnboundedSender<Outbound>) {
        *self.out.lock().expect("outbox lock") = Some(out);
        let negotiation = self.negotiation.lock().await;
        if negotiation.offer_out
            && let Some(offer) = self.pc.local_description().await
        {
            self.send(Outbound::Payload(VoicePayload::SessionDescription(
                SdpData {
                    kind: SdpKind::Offer,
                    sdp: offer.sdp,
                },
            )));
        }
    }

    async fn gathering_done(&self) {
        let mut gathered = self.gathered.clone();
        let _ = tokio::time::timeout(Duration::from_secs(5), gathered.wait_for(|g| *g)).await;
    }

    /// Answers the client's first offer. Afterwards the participant
    /// receives everyone else's tracks (through an SFU offer).
    pub(crate) async fn accept_offer(self: &Arc<Self>, sdp: String) -> Result<()> {
        {
            let mut negotiation = self.negotiation.lock().await;
            if negotiation.ready {
                return Err(VoiceError::BadSdp(
                    "the first offer was already answered".into(),
                ));
            }
            let offer =
                RTCSessionDescription::offer(sdp).map_err(|e| VoiceError::BadSdp(e.to_string()))?;
            self.pc
                .set_remote_description(offer)
                .await
                .map_err(|e| VoiceError::BadSdp(e.to_string()))?;
            let answer = self.pc.create_answer(None).await?;
            self.pc.set_local_description(answer).await?;
            self.gathering_done().await;
            let answer = self
                .pc
                .local_description()
                .await
                .ok_or_else(|| VoiceError::BadSdp("no local description".into()))?;
            let level_id = media::extmap_id(&answer.sdp, media::AUDIO_LEVEL_URI).unwrap_or(0);
            self.audio_level_id.store(level_id, Ordering::Relaxed);
            self.send(Outbound::Payload(VoicePayload::SessionDescription(
                SdpData {
                    kind: SdpKind::Answer,
                    sdp: answer.sdp,
                },
            )));
            negotiation.ready = true;
        }
        if let Some(room) = self.room() {
            room.subscribe_to_all(self).await;
        }
        Ok(())
    }

    /// Takes the client's answer to an SFU offer.
    pub(crate) async fn accept_answer(self: &Arc<Self>, sdp: String) -> Result<()> {
        let again = {
            let mut negotiation = self.negotiation.lock().await;
            if !negotiation.offer_out {
                return Err(VoiceError::BadSdp(
                    "no offer is waiting for an answer".into(),
                ));
            }
            let answer = RTCSessionDescription::answer(sdp)
                .map_err(|e| VoiceError::BadSdp(e.to_string()))?;
            self.pc
                .set_remote_description(answer)
                .await
                .map_err(|e| VoiceError::BadSdp(e.to_string()))?;
            negotiation.offer_out = false;
            std::mem::take(&mut negotiation.dirty)
        };
        if again {
            self.renegotiate().await;
        }
        Ok(())
    }

    /// Adds a client's trickled ICE candidate.
    pub(crate) async fn add_candidate(&self, candidate: IceCandidate) -> Result<()> {
        self.pc
            .add_ice_candidate(RTCIceCandidateInit {
                candidate: candidate.candidate,
                sdp_mid: candidate.sdp_mid,
                sdp_mline_index: candidate.sdp_mline_index,
                ..Default::default()
            })
            .await
            .map_err(|e| VoiceError::BadSdp(e.to_string()))
    }

    /// Whether the first offer has been answered (the participant can
    /// receive tracks).
    pub(crate) async fn ready(&self) -> bool {
        self.negotiation.lock().await.ready
    }

    /// Offers the participant's current set of received tracks, now or
    /// after the answer to the offer already out.
    pub(crate) async fn renegotiate(&self) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let mut negotiation = self.negotiation.lock().await;
        if !negotiation.ready {
            return;
        }
        if negotiation.offer_out {
            negotiation.dirty = true;
            return;
        }
        let offer = match self.pc.create_offer(None).await {
            Ok(offer) => offer,
            Err(e) => {
                tracing::warn!(user = %self.user_id, "renegotiation offer failed: {e}");
                return;
            }
        };
        if let Err(e) = self.pc.set_local_description(offer).await {
            tracing::warn!(user = %self.user_id, "renegotiation failed: {e}");
            return;
        }
        let Some(offer) = self.pc.local_description().await else {
            return;
        };
        negotiation.offer_out = true;
        self.send(Outbound::Payload(VoicePayload::SessionDescription(
            SdpData {
                kind: SdpKind::Offer,
                sdp: offer.sdp,
            },
        )));
    }

    /// Closes the peer connection.
    pub(crate) async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        if let Err(e) = self.pc.close().await {
            tracing::debug!(user = %self.user_id, "closing peer connection: {e}");
        }
    }
}
