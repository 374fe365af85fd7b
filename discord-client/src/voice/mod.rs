//! Voice: join a voice channel's SFU over WebRTC, send Opus audio (and
//! optionally VP8 video), receive everyone else's.
//!
//! Joining takes two steps. On the gateway, send op 4
//! ([`ClientCommand::VoiceStateUpdate`](discord_proto::gateway::ClientCommand))
//! and collect the VOICE_SERVER_UPDATE that answers it (the token and the
//! endpoint) and the session ID from READY. Then [`VoiceConnection::connect`]
//! with that [`VoiceServerInfo`] opens the voice signaling WebSocket,
//! negotiates WebRTC and returns the connection and its
//! [`VoiceEvent`] stream.
//!
//! Payloads are sent as they are: give [`VoiceConnection::send_audio`] an
//! encoded Opus frame (20 ms is 960 samples at 48 kHz); [`OpusEncoder`]
//! makes them from PCM and [`OpusDecoder`] turns received ones back into
//! PCM. The connection numbers and timestamps the RTP packets.

mod connection;
mod join;
mod opus;
mod outgoing;
mod peer;

pub use connection::{MediaKind, VoiceConnection, VoiceEvent, VoiceOptions, VoiceServerInfo};
pub use discord_proto::voice::media::AudioLevel;
pub use join::{join_voice, leave_voice};
pub use opus::{FRAME_LEN, FRAME_SAMPLES, OpusDecoder, OpusEncoder, tone, zero_crossing_frequency};
pub use rtc::rtp::Packet as RtpPacket;
