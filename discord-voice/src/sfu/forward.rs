//! A published track and the loop that copies its RTP packets to every
//! receiver, unchanged but for the SSRC (one per published track) and the
//! header extensions (each connection negotiates its own).
//!
//! Each receiver has a bounded queue and its own writer task, so a slow
//! receiver loses packets (which NACK may recover) without slowing anyone
//! else. Audio from a muted participant is dropped here; deafened
//! participants get no audio. Keyframe requests from receivers go back to
//! the publisher.

use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use discord_proto::Snowflake;
use discord_proto::voice::{VoicePayload, VoiceSpeaking};
use rtc::media_stream::MediaStreamTrack;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use tokio::sync::mpsc;
use tokio::time::Instant;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

use super::Participant;
use super::participant::SharedFlags;
use discord_proto::voice::media::{self, AudioLevel, is_keyframe_request};

/// Packets queued per receiver before the oldest are dropped.
const SINK_QUEUE: usize = 512;

/// Opus frames this small carry silence (DTX, comfort noise).
const SILENT_OPUS_BYTES: usize = 3;

/// A track a participant sends, and who receives it.
pub(crate) struct Published {
    /// Unique on the node.
    pub(crate) id: u64,
    pub(crate) publisher: Snowflake,
    pub(crate) kind: RtpCodecKind,
    codec: RTCRtpCodec,
    remote: Arc<dyn TrackRemote>,
    remote_ssrc: u32,
    /// The SSRC receivers see.
    out_ssrc: u32,
    sinks: RwLock<Vec<Sink>>,
    stats: Arc<super::SfuStats>,
}

struct Sink {
    subscriber: Snowflake,
    flags: Arc<SharedFlags>,
    tx: mpsc::Sender<rtp::Packet>,
}

impl Published {
    /// Adds `subscriber` as a receiver: a new local track in its peer
    /// connection. Returns false if it already receives this track.
    pub(crate) async fn add_sink(self: &Arc<Self>, subscriber: &Arc<Participant>) -> bool {
        if subscriber
            .receiving
            .lock()
            .expect("receiving lock")
            .contains_key(&self.id)
        {
            return false;
        }
        let kind_name = match self.kind {
            RtpCodecKind::Audio => "audio",
            _ => "video",
        };
        let local = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            // The stream is the publisher: a client groups tracks by user.
            self.publisher.to_string(),
            format!("{}-{kind_name}-{}", self.publisher, self.id),
            format!("{}-{kind_name}", self.publisher),
            self.kind,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(self.out_ssrc),
                    ..Default::default()
                },
                codec: self.codec.clone(),
                ..Default::default()
            }],
        )));
        let sender = match subscriber
            .pc
            .add_track(local.clone() as Arc<dyn TrackLocal>)
            .await
        {
            Ok(sender) => sender,
            Err(e) => {
                tracing::warn!(user = %subscriber.user_id, "add_track failed: {e}");
                return false;
            }
        };
        subscriber
            .receiving
            .lock()
            .expect("receiving lock")
            .insert(self.id, sender);
        let (tx, mut rx) = mpsc::channel::<rtp::Packet>(SINK_QUEUE);
        // The writer: ends when the sink is removed (tx dropped).
        let writer = local.clone();
        tokio::spawn(async move {
            while let Some(packet) = rx.recv().await {
                if writer.write_rtp(packet).await.is_err() {
                    // Not bound yet (renegotiation in flight) or gone.
                    continue;
                }
            }
        });
        // Keyframe requests from this receiver go to the publisher.
        let weak: Weak<Published> = Arc::downgrade(self);
        tokio::spawn(async move {
            while let Some(event) = local.poll().await {
                let TrackLocalEvent::OnRtcpPacket(packets) = event else {
                    continue;
                };
                if !packets.iter().any(|p| is_keyframe_request(p.as_ref())) {
                    continue;
                }
                let Some(track) = weak.upgrade() else { break };
                track.request_keyframe().await;
            }
        });
        self.sinks.write().expect("sinks lock").push(Sink {
            subscriber: subscriber.user_id,
            flags: subscriber.flags.clone(),
            tx,
        });
        true
    }

    /// Stops sending to `subscriber`.
    pub(crate) fn remove_sink(&self, subscriber: Snowflake) {
        self.sinks
            .write()
            .expect("sinks lock")
            .retain(|s| s.subscriber != subscriber);
    }

    async fn request_keyframe(&self) {
        self.stats.keyframe_requests.fetch_add(1, Ordering::Relaxed);
        let pli = PictureLossIndication {
            sender_ssrc: 0,
            media_ssrc: self.remote_ssrc,
        };
        if let Err(e) = self.remote.write_rtcp(vec![Box::new(pli)]).await {
            tracing::debug!("keyframe request: {e}");
        }
    }

    fn forward(&self, mut packet: rtp::Packet) {
        packet.header.ssrc = self.out_ssrc;
        packet.header.extension = false;
        packet.header.extensions.clear();
        let audio = self.kind == RtpCodecKind::Audio;
        for sink in self.sinks.read().expect("sinks lock").iter() {
            if audio && sink.flags.deafened() {
                continue;
            }
            match sink.tx.try_send(packet.clone()) {
                Ok(()) => self.stats.forwarded.fetch_add(1, Ordering::Relaxed),
                Err(_) => self.stats.dropped_slow.fetch_add(1, Ordering::Relaxed),
            };
        }
    }
}

fn next_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn default_codec(kind: RtpCodecKind) -> RTCRtpCodec {
    match kind {
        RtpCodecKind::Audio => media::opus(),
        _ => media::vp8(),
    }
}

/// Whether an audio packet holds speech: by its RFC 6464 audio level when
/// the client sends one (under extension `level_id`), else by its size
/// (Opus silence and DTX frames are a few bytes).
fn voiced(packet: &rtp::Packet, level_id: u8) -> bool {
    if level_id != 0
        && let Some(level) = packet
            .header
            .get_extension(level_id)
            .and_then(|e| AudioLevel::parse(&e))
    {
        return level.is_speech();
    }
    packet.payload.len() > SILENT_OPUS_BYTES
}

/// Whether the participant is speaking, from its audio packets.
struct Speaking {
    since_voiced: Option<Instant>,
    hangover: Duration,
}

/// Reads a participant's remote track until it ends, forwarding every
/// packet; the track is published on its first packet (when its SSRC and
/// codec are known).
pub(crate) async fn run(participant: Weak<Participant>, track: Arc<dyn TrackRemote>) {
    let Some(p) = participant.upgrade() else {
        return;
    };
    let Some(room) = p.room() else { return };
    let kind = track.kind().await;
    let hangover = room.hangover;
    let (user_id, flags) = (p.user_id, p.flags.clone());
    let level_id = p.audio_level_id.clone();
    drop(p);
    let mut published: Option<Arc<Published>> = None;
    let mut speaking = Speaking {
        since_voiced: None,
        hangover,
    };
    loop {
        let silence_at = speaking.since_voiced.map(|t| t + speaking.hangover);
        let event = tokio::select! {
            event = track.poll() => event,
            _ = sleep_until(silence_at), if silence_at.is_some() => {
                speaking.since_voiced = None;
                if let Some(t) = &published {
                    room.broadcast(user_id, &speaking_payload(user_id, t.out_ssrc, false));
                }
                continue;
            }
        };
        match event {
            None | Some(TrackRemoteEvent::OnEnded) => break,
            Some(TrackRemoteEvent::OnRtpPacket(packet)) => {
                let track_ref = match &published {
                    Some(t) => t.clone(),
                    None => {
                        let ssrc = packet.header.ssrc;
                        let codec = track
                            .codec(ssrc)
                            .await
                            .unwrap_or_else(|| default_codec(kind));
                        let t = Arc::new(Published {
                            id: next_id(),
                            publisher: user_id,
                            kind,
                            codec,
                            remote: track.clone(),
                            remote_ssrc: ssrc,
                            out_ssrc: rand::random::<u32>() | 1,
                            sinks: RwLock::new(Vec::new()),
                            stats: room.stats.clone(),
                        });
                        room.publish(t.clone()).await;
                        published = Some(t.clone());
                        t
                    }
                };
                if kind == RtpCodecKind::Audio {
                    if flags.muted() {
                        room.stats.dropped_muted.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    if voiced(&packet, level_id.load(Ordering::Relaxed)) {
                        if speaking.since_voiced.is_none() {
                            room.broadcast(
                                user_id,
                                &speaking_payload(user_id, track_ref.out_ssrc, true),
                            );
                        }
                        speaking.since_voiced = Some(Instant::now());
                    }
                }
                track_ref.forward(packet);
            }
            Some(_) => {}
        }
    }
    if let Some(t) = published {
        if speaking.since_voiced.is_some() {
            room.broadcast(user_id, &speaking_payload(user_id, t.out_ssrc, false));
        }
        room.unpublish(&t).await;
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn speaking_payload(user_id: Snowflake, ssrc: u32, on: bool) -> VoicePayload {
    VoicePayload::Speaking(VoiceSpeaking {
        speaking: u32::from(on),
        ssrc,
        user_id: Some(user_id),
        delay: None,
    })
}
