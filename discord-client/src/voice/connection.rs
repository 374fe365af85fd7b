//! [`VoiceConnection`]: the signaling WebSocket plus the WebRTC peer.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use discord_proto::Snowflake;
use discord_proto::voice::{
    SdpData, SdpKind, SelectProtocol, VOICE_VERSION, VoiceHeartbeat, VoiceIdentify, VoicePayload,
    VoiceReady,
};
use futures::{SinkExt, StreamExt};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{PeerConnection, RTCSessionDescription};

use super::outgoing::Outgoing;
use super::peer;
use crate::error::{ClientError, Result};
use discord_proto::voice::media::{self, AudioLevel, is_keyframe_request};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Where and as whom to connect: READY's session ID plus
/// VOICE_SERVER_UPDATE's token and endpoint.
#[derive(Clone, Debug)]
pub struct VoiceServerInfo {
    /// The signaling URL from VOICE_SERVER_UPDATE (`ws://` or `wss://`;
    /// a bare host gets `wss://`).
    pub endpoint: String,
    /// The guild.
    pub guild_id: Snowflake,
    /// The bot's user ID.
    pub user_id: Snowflake,
    /// The gateway session ID (READY's `session_id`).
    pub session_id: String,
    /// The token from VOICE_SERVER_UPDATE.
    pub token: String,
}

/// What to send.
#[derive(Clone, Debug)]
pub struct VoiceOptions {
    /// Also send a VP8 video track.
    pub video: bool,
    /// The local address media is sent from.
    pub media_ip: IpAddr,
}

impl Default for VoiceOptions {
    fn default() -> VoiceOptions {
        VoiceOptions {
            video: false,
            media_ip: IpAddr::from([127, 0, 0, 1]),
        }
    }
}

/// Audio or video.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// Opus audio.
    Audio,
    /// Video (VP8 here).
    Video,
}

/// What happens in the voice channel.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum VoiceEvent {
    /// Participants are in, or joined, the channel.
    ClientsConnect(Vec<Snowflake>),
    /// A participant left.
    ClientDisconnect(Snowflake),
    /// A participant started or stopped speaking.
    Speaking {
        /// Who.
        user_id: Snowflake,
        /// Started (true) or stopped.
        speaking: bool,
    },
    /// A participant's media packet arrived.
    Rtp {
        /// Whose.
        user_id: Snowflake,
        /// Audio or video.
        kind: MediaKind,
        /// The packet.
        packet: rtp::Packet,
    },
    /// A participant's track ended (they left or stopped sending it).
    TrackEnded {
        /// Whose.
        user_id: Snowflake,
        /// Audio or video.
        kind: MediaKind,
    },
    /// Someone watching our video asked for a keyframe.
    KeyframeRequested,
    /// The voice server closed the connection.
    Closed {
        /// The close code, if one came.
        code: Option<u16>,
    },
}

/// A connection to a voice channel. Dropping it leaves the media session;
/// leave the channel itself with op 4 (`channel_id: null`).
pub struct VoiceConnection {
    pc: Arc<dyn PeerConnection>,
    ready: VoiceReady,
    audio: Outgoing,
    video: Option<Outgoing>,
    remote: RemoteTracks,
    signaling: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for VoiceConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceConnection")
            .field("ready", &self.ready)
            .finish_non_exhaustive()
    }
}

fn voice_error(e: impl std::fmt::Display) -> ClientError {
    ClientError::Voice(e.to_string())
}

fn signaling_url(endpoint: &str) -> String {
    let base = if endpoint.starts_with("ws://") || endpoint.starts_with("wss://") {
        endpoint.to_owned()
    } else {
        format!("wss://{endpoint}")
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}v={VOICE_VERSION}")
}

async fn send(ws: &mut Ws, payload: &VoicePayload) -> Result<()> {
    ws.send(Message::text(payload.to_json()))
        .await
        .map_err(voice_error)
}

/// The next payload, or the close code that ended the connection.
async fn next(ws: &mut Ws) -> Result<VoicePayload> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                return VoicePayload::from_json(text.as_str()).map_err(voice_error);
            }
            Some(Ok(Message::Close(frame))) => {
                return Err(ClientError::VoiceClosed(frame.map(|f| u16::from(f.code))));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(voice_error(e)),
            None => return Err(ClientError::VoiceClosed(None)),
        }
    }
}

impl VoiceConnection {
    /// Connects: HELLO, IDENTIFY, READY, then the WebRTC offer and the
    /// server's answer. Returns once media can flow, with the stream of
    /// what happens in the channel.
    pub async fn connect(
        info: VoiceServerInfo,
        options: VoiceOptions,
    ) -> Result<(VoiceConnection, mpsc::UnboundedReceiver<VoiceEvent>)> {
        let (mut ws, _) = tokio_tungstenite::connect_async(signaling_url(&info.endpoint))
            .await
            .map_err(voice_error)?;
        let VoicePayload::Hello(hello) = next(&mut ws).await? else {
            return Err(voice_error("the voice server did not start with HELLO"));
        };
        send(
            &mut ws,
            &VoicePayload::Identify(VoiceIdentify {
                server_id: info.guild_id,
                user_id: info.user_id,
                session_id: info.session_id.clone(),
                token: info.token.clone(),
            }),
        )
        .await?;
        let (events_tx, events) = mpsc::unbounded_channel();
        let ready = loop {
            match next(&mut ws).await? {
                VoicePayload::Ready(ready) => break ready,
                other => forward(&events_tx, other),
            }
        };

        let mut peer = peer::build(options.media_ip).await.map_err(voice_error)?;
        let audio = Outgoing::new(
            RtpCodecKind::Audio,
            ready.ssrc,
            media::opus(),
            media::OPUS_PAYLOAD_TYPE,
        );
        peer.pc
            .add_track(audio.track.clone() as Arc<dyn TrackLocal>)
            .await
            .map_err(voice_error)?;
        let video = if options.video {
            let video = Outgoing::new(
                RtpCodecKind::Video,
                rand::random::<u32>() | 1,
                media::vp8(),
                media::VP8_PAYLOAD_TYPE,
            );
            peer.pc
                .add_track(video.track.clone() as Arc<dyn TrackLocal>)
                .await
                .map_err(voice_error)?;
            Some(video)
        } else {
            None
        };

        let offer = peer.pc.create_offer(None).await.map_err(voice_error)?;
        peer.pc
            .set_local_description(offer)
            .await
            .map_err(voice_error)?;
        let _ = tokio::time::timeout(Duration::from_secs(5), peer.gathered.wait_for(|done| *done))
            .await;
        let offer = peer
            .pc
            .local_description()
            .await
            .ok_or_else(|| voice_error("no local description"))?;
        send(
            &mut ws,
            &VoicePayload::SelectProtocol(SelectProtocol {
                protocol: "webrtc".into(),
                data: SdpData {
                    kind: SdpKind::Offer,
                    sdp: offer.sdp,
                },
            }),
        )
        .await?;
        loop {
            match next(&mut ws).await? {
                VoicePayload::SessionDescription(SdpData {
                    kind: SdpKind::Answer,
                    sdp,
                }) => {
                    let level_id = media::extmap_id(&sdp, media::AUDIO_LEVEL_URI).unwrap_or(0);
                    audio.level_id.store(level_id, Ordering::Relaxed);
                    let answer = RTCSessionDescription::answer(sdp).map_err(voice_error)?;
                    peer.pc
                        .set_remote_description(answer)
                        .await
                        .map_err(voice_error)?;
                    break;
                }
                other => forward(&events_tx, other),
            }
        }

        let remote = Arc::new(Mutex::new(HashMap::new()));
        tokio::spawn(read_tracks(peer.tracks, events_tx.clone(), remote.clone()));
        if let Some(video) = &video {
            let track = video.track.clone();
            let events = events_tx.clone();
            tokio::spawn(async move {
                while let Some(event) = track.poll().await {
                    if let TrackLocalEvent::OnRtcpPacket(packets) = event
                        && packets.iter().any(|p| is_keyframe_request(p.as_ref()))
                        && events.send(VoiceEvent::KeyframeRequested).is_err()
                    {
                        break;
                    }
                }
            });
        }
        let interval = Duration::from_secs_f64(hello.heartbeat_interval.max(1000.0) / 1000.0);
        let signaling = tokio::spawn(run_signaling(
            ws,
            peer.pc.clone(),
            events_tx,
            interval,
            remote.clone(),
        ));
        Ok((
            VoiceConnection {
                pc: peer.pc,
                ready,
                audio,
                video,
                remote,
                signaling,
            },
            events,
        ))
    }

    /// READY's data (the audio SSRC, the channel).
    pub fn ready(&self) -> &VoiceReady {
        &self.ready
    }

    /// Sends one encoded Opus frame covering `samples` samples at 48 kHz
    /// (960 for 20 ms).
    pub async fn send_audio(&self, opus_frame: Bytes, samples: u32) -> Result<()> {
        self.audio.send(opus_frame, samples, false).await
    }

    /// [`VoiceConnection::send_audio`] with the frame's audio level (RFC
    /// 6464; [`AudioLevel::of_pcm`] measures it), which the voice server
    /// uses for speaking indicators when the connection negotiated it.
    pub async fn send_audio_with_level(
        &self,
        opus_frame: Bytes,
        samples: u32,
        level: AudioLevel,
    ) -> Result<()> {
        self.audio
            .send_with_level(opus_frame, samples, false, Some(level))
            .await
    }

    /// Sends one RTP payload of VP8 video; `frame_end` marks the last
    /// packet of a frame, after which the timestamp advances by
    /// `ticks` (90 kHz clock). Fails without [`VoiceOptions::video`].
    pub async fn send_video(&self, payload: Bytes, frame_end: bool, ticks: u32) -> Result<()> {
        let video = self
            .video
            .as_ref()
            .ok_or_else(|| voice_error("connected without video"))?;
        video
            .send(payload, if frame_end { ticks } else { 0 }, frame_end)
            .await
    }

    /// Asks the voice server for a keyframe of `user_id`'s video (it
    /// relays the request to them).
    pub async fn request_keyframe(&self, user_id: Snowflake) -> Result<()> {
        let found = self
            .remote
            .lock()
            .expect("remote tracks lock")
            .values()
            .find(|r| r.user_id == user_id && r.kind == MediaKind::Video)
            .and_then(|r| Some((r.track.clone(), r.ssrc?)));
        let (track, ssrc) = found.ok_or_else(|| voice_error("no video from that user"))?;
        track
            .write_rtcp(vec![Box::new(PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: ssrc,
            })])
            .await
            .map_err(voice_error)
    }

    /// Ends the media session and the signaling connection.
    pub async fn close(self) {
        self.signaling.abort();
        let _ = self.pc.close().await;
    }
}

impl Drop for VoiceConnection {
    fn drop(&mut self) {
        self.signaling.abort();
    }
}

fn forward(events: &mpsc::UnboundedSender<VoiceEvent>, payload: VoicePayload) {
    let event = match payload {
        VoicePayload::ClientsConnect(c) => VoiceEvent::ClientsConnect(c.user_ids),
        VoicePayload::ClientDisconnect(c) => VoiceEvent::ClientDisconnect(c.user_id),
        VoicePayload::Speaking(s) => match s.user_id {
            Some(user_id) => VoiceEvent::Speaking {
                user_id,
                speaking: s.speaking != 0,
            },
            None => return,
        },
        _ => return,
    };
    let _ = events.send(event);
}

/// A track received from the voice server.
struct RemoteTrack {
    user_id: Snowflake,
    kind: MediaKind,
    track: Arc<dyn TrackRemote>,
    /// Known once its first packet arrived.
    ssrc: Option<u32>,
    reader: tokio::task::AbortHandle,
}

/// Received tracks by track ID.
type RemoteTracks = Arc<Mutex<HashMap<String, RemoteTrack>>>;

/// The IDs of the tracks an SDP offer from the voice server still sends:
/// the `msid` of every media section it sends on.
fn sent_track_ids(sdp: &str) -> std::collections::HashSet<String> {
    let mut live = std::collections::HashSet::new();
    let mut section: Option<(bool, Vec<String>)> = None;
    let mut flush = |section: &mut Option<(bool, Vec<String>)>| {
        if let Some((sending, ids)) = section.take()
            && sending
        {
            live.extend(ids);
        }
    };
    for line in sdp.lines() {
        let line = line.trim_end();
        if line.starts_with("m=") {
            flush(&mut section);
            // Sections send both ways unless they say otherwise.
            section = Some((true, Vec::new()));
        } else if let Some((sending, ids)) = section.as_mut() {
            match line {
                "a=recvonly" | "a=inactive" => *sending = false,
                "a=sendrecv" | "a=sendonly" => *sending = true,
                _ => {
                    let msid = line.strip_prefix("a=msid:").or_else(|| {
                        line.strip_prefix("a=ssrc:")
                            .and_then(|rest| rest.split_once(" msid:"))
                            .map(|(_, m)| m)
                    });
                    if let Some(track) = msid.and_then(|m| m.split_whitespace().nth(1)) {
                        ids.push(track.to_owned());
                    }
                }
            }
        }
    }
    flush(&mut section);
    live
}

/// After a renegotiation: tracks the voice server no longer sends ended
/// (their participant left or stopped sending).
fn reap_ended(
    live: &std::collections::HashSet<String>,
    remote: &RemoteTracks,
    events: &mpsc::UnboundedSender<VoiceEvent>,
) {
    let ended: Vec<RemoteTrack> = {
        let mut map = remote.lock().expect("remote tracks lock");
        let gone: Vec<String> = map
            .keys()
            .filter(|id| !live.contains(*id))
            .cloned()
            .collect();
        gone.iter().filter_map(|id| map.remove(id)).collect()
    };
    for track in ended {
        track.reader.abort();
        let _ = events.send(VoiceEvent::TrackEnded {
            user_id: track.user_id,
            kind: track.kind,
        });
    }
}

async fn read_tracks(
    mut tracks: mpsc::UnboundedReceiver<Arc<dyn TrackRemote>>,
    events: mpsc::UnboundedSender<VoiceEvent>,
    remote: RemoteTracks,
) {
    while let Some(track) = tracks.recv().await {
        // The voice server names each stream after its publisher.
        let Ok(user_id) = track.stream_id().await.parse::<u64>().map(Snowflake::new) else {
            continue;
        };
        let kind = match track.kind().await {
            RtpCodecKind::Audio => MediaKind::Audio,
            _ => MediaKind::Video,
        };
        let track_id = track.track_id().await.to_string();
        let reader = tokio::spawn({
            let (events, remote, track, track_id) = (
                events.clone(),
                remote.clone(),
                track.clone(),
                track_id.clone(),
            );
            async move {
                let mut known = false;
                while let Some(event) = track.poll().await {
                    match event {
                        TrackRemoteEvent::OnRtpPacket(packet) => {
                            if !known {
                                known = true;
                                if let Some(r) = remote
                                    .lock()
                                    .expect("remote tracks lock")
                                    .get_mut(&track_id)
                                {
                                    r.ssrc = Some(packet.header.ssrc);
                                }
                            }
                            let event = VoiceEvent::Rtp {
                                user_id,
                                kind,
                                packet,
                            };
                            if events.send(event).is_err() {
                                return;
                            }
                        }
                        TrackRemoteEvent::OnEnded => break,
                        _ => {}
                    }
                }
                if remote
                    .lock()
                    .expect("remote tracks lock")
                    .remove(&track_id)
                    .is_some()
                {
                    let _ = events.send(VoiceEvent::TrackEnded { user_id, kind });
                }
            }
        });
        remote.lock().expect("remote tracks lock").insert(
            track_id,
            RemoteTrack {
                user_id,
                kind,
                track,
                ssrc: None,
                reader: reader.abort_handle(),
            },
        );
    }
}

async fn run_signaling(
    mut ws: Ws,
    pc: Arc<dyn PeerConnection>,
    events: mpsc::UnboundedSender<VoiceEvent>,
    interval: Duration,
    remote: RemoteTracks,
) {
    let mut beat = tokio::time::interval(interval);
    beat.tick().await;
    let code = loop {
        tokio::select! {
            _ = beat.tick() => {
                let t = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                if send(&mut ws, &VoicePayload::Heartbeat(VoiceHeartbeat { t, seq_ack: None })).await.is_err() {
                    break None;
                }
            }
            payload = next(&mut ws) => match payload {
                Ok(VoicePayload::SessionDescription(SdpData { kind: SdpKind::Offer, sdp })) => {
                    let live = sent_track_ids(&sdp);
                    match answer(&pc, sdp).await {
                        Ok(sdp) => {
                            let reply = VoicePayload::SessionDescription(SdpData { kind: SdpKind::Answer, sdp });
                            if send(&mut ws, &reply).await.is_err() {
                                break None;
                            }
                            reap_ended(&live, &remote, &events);
                        }
                        Err(e) => tracing::warn!("voice renegotiation failed: {e}"),
                    }
                }
                Ok(other) => forward(&events, other),
                Err(ClientError::VoiceClosed(code)) => break code,
                Err(e) => {
                    tracing::debug!("voice signaling ended: {e}");
                    break None;
                }
            },
        }
    };
    let _ = events.send(VoiceEvent::Closed { code });
}

async fn answer(pc: &Arc<dyn PeerConnection>, sdp: String) -> Result<String> {
    let offer = RTCSessionDescription::offer(sdp).map_err(voice_error)?;
    pc.set_remote_description(offer)
        .await
        .map_err(voice_error)?;
    let answer = pc.create_answer(None).await.map_err(voice_error)?;
    pc.set_local_description(answer)
        .await
        .map_err(voice_error)?;
    let local = pc
        .local_description()
        .await
        .ok_or_else(|| voice_error("no local description"))?;
    Ok(local.sdp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sections_the_server_sends_on_hold_live_tracks() {
        let sdp = "v=0\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
a=mid:0\r\n\
a=sendrecv\r\n\
a=msid:11 11-audio-1\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
a=mid:1\r\n\
a=recvonly\r\n\
a=msid:12 12-audio-2\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
a=mid:2\r\n\
a=sendonly\r\n\
a=ssrc:42 msid:13 13-video-3\r\n";
        let live = sent_track_ids(sdp);
        assert!(live.contains("11-audio-1"));
        assert!(
            !live.contains("12-audio-2"),
            "a recvonly section sends nothing"
        );
        assert!(live.contains("13-video-3"));
        assert_eq!(live.len(), 2);
    }
}
