//! The voice signaling protocol: the payloads a client and a voice server
//! exchange over the voice WebSocket, sans I/O.
//!
//! The shape follows Discord's voice gateway (`{"op": N, "d": {...}}`,
//! IDENTIFY, READY, HELLO, heartbeats, SPEAKING, RESUME, client
//! connect/disconnect, the same close codes). Media goes over WebRTC instead
//! of Discord's bespoke UDP protocol, so three payloads carry WebRTC
//! signaling:
//!
//! - op 1 SELECT_PROTOCOL with `protocol: "webrtc"` carries the client's
//!   first SDP offer;
//! - op 4 SESSION_DESCRIPTION carries SDP both ways: the server's answer to
//!   that offer, later the server's renegotiation offers (participants
//!   joining and leaving), and the client's answers to those;
//! - op 40 ICE_CANDIDATE (ours; Discord does not use 40) trickles a client
//!   ICE candidate. Servers include theirs in their SDP.
//!
//! docs/voice.md describes the whole flow.

#[cfg(feature = "webrtc")]
pub mod media;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::{ProtoError, Snowflake};

/// The voice signaling protocol version this crate speaks (`?v=` on the
/// voice WebSocket URL).
pub const VOICE_VERSION: u8 = 8;

/// A voice signaling opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u8)]
pub enum VoiceOpCode {
    /// 0, client → server: start a voice session.
    Identify = 0,
    /// 1, client → server: choose the media protocol (here: WebRTC, with
    /// the first SDP offer).
    SelectProtocol = 1,
    /// 2, server → client: the session is ready.
    Ready = 2,
    /// 3, client → server: keep-alive.
    Heartbeat = 3,
    /// 4, both ways: an SDP offer or answer.
    SessionDescription = 4,
    /// 5, both ways: a participant started or stopped speaking.
    Speaking = 5,
    /// 6, server → client: a heartbeat was received.
    HeartbeatAck = 6,
    /// 7, client → server: resume a dropped signaling connection.
    Resume = 7,
    /// 8, server → client: sent on connect, carries the heartbeat interval.
    Hello = 8,
    /// 9, server → client: the resume succeeded.
    Resumed = 9,
    /// 11, server → client: participants are in (or joined) the channel.
    ClientsConnect = 11,
    /// 13, server → client: a participant left the channel.
    ClientDisconnect = 13,
    /// 40, client → server: a trickled ICE candidate (this protocol's own).
    IceCandidate = 40,
}

impl VoiceOpCode {
    /// The opcode with this number, if there is one.
    pub const fn from_u8(op: u8) -> Option<VoiceOpCode> {
        Some(match op {
            0 => VoiceOpCode::Identify,
            1 => VoiceOpCode::SelectProtocol,
            2 => VoiceOpCode::Ready,
            3 => VoiceOpCode::Heartbeat,
            4 => VoiceOpCode::SessionDescription,
            5 => VoiceOpCode::Speaking,
            6 => VoiceOpCode::HeartbeatAck,
            7 => VoiceOpCode::Resume,
            8 => VoiceOpCode::Hello,
            9 => VoiceOpCode::Resumed,
            11 => VoiceOpCode::ClientsConnect,
            13 => VoiceOpCode::ClientDisconnect,
            40 => VoiceOpCode::IceCandidate,
            _ => return None,
        })
    }
}

/// A close code a voice server sends when it ends a signaling connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u16)]
pub enum VoiceCloseCode {
    /// 4001: an unknown opcode.
    UnknownOpcode = 4001,
    /// 4002: a payload that does not decode.
    DecodeError = 4002,
    /// 4003: a payload sent before IDENTIFY.
    NotAuthenticated = 4003,
    /// 4004: the token (or the user, session or server with it) is wrong.
    AuthenticationFailed = 4004,
    /// 4005: a second IDENTIFY.
    AlreadyAuthenticated = 4005,
    /// 4006: the session is no longer valid (RESUME too late).
    SessionNoLongerValid = 4006,
    /// 4009: no heartbeat in time.
    SessionTimeout = 4009,
    /// 4011: the voice server for this guild is unknown.
    ServerNotFound = 4011,
    /// 4012: SELECT_PROTOCOL named a protocol this server does not speak.
    UnknownProtocol = 4012,
    /// 4014: disconnected: the user left, was moved or was kicked, or the
    /// channel was deleted. Do not reconnect.
    Disconnected = 4014,
    /// 4015: the voice server failed; reconnect.
    VoiceServerCrashed = 4015,
    /// 4020: a bad request (for example an SDP the server cannot use).
    BadRequest = 4020,
    /// 4023: the channel or the voice node is full (this protocol's own).
    RoomFull = 4023,
}

impl VoiceCloseCode {
    /// The code's number.
    pub const fn code(self) -> u16 {
        self as u16
    }

    /// Whether a client may reconnect (resume) after this close.
    pub const fn can_reconnect(self) -> bool {
        matches!(
            self,
            VoiceCloseCode::SessionTimeout | VoiceCloseCode::VoiceServerCrashed
        )
    }
}

/// op 0 IDENTIFY.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceIdentify {
    /// The guild (Discord calls it the server).
    pub server_id: Snowflake,
    /// The user.
    pub user_id: Snowflake,
    /// The main gateway session the voice state belongs to.
    pub session_id: String,
    /// The token from VOICE_SERVER_UPDATE.
    pub token: String,
}

/// op 1 SELECT_PROTOCOL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectProtocol {
    /// The media protocol: `"webrtc"` is the one this server speaks.
    pub protocol: String,
    /// The protocol's data: for WebRTC the client's SDP offer.
    pub data: SdpData,
}

/// SDP in a SELECT_PROTOCOL or SESSION_DESCRIPTION payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SdpData {
    /// `"offer"` or `"answer"`.
    #[serde(rename = "type")]
    pub kind: SdpKind,
    /// The SDP text.
    pub sdp: String,
}

/// Whether an SDP is an offer or an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SdpKind {
    /// An offer.
    Offer,
    /// An answer to an offer.
    Answer,
}

/// op 2 READY.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceReady {
    /// The SSRC the client should use for its audio.
    pub ssrc: u32,
    /// The media protocols the server speaks (`["webrtc"]`).
    pub modes: Vec<String>,
    /// The channel the session is in.
    pub channel_id: Snowflake,
}

/// op 8 HELLO.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct VoiceHello {
    /// How often to send op 3 HEARTBEAT, in milliseconds.
    pub heartbeat_interval: f64,
}

/// op 3 HEARTBEAT and op 6 HEARTBEAT_ACK.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceHeartbeat {
    /// A nonce (a timestamp, say) the server echoes in the ACK.
    pub t: u64,
    /// The last sequence number the client received (unused here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq_ack: Option<i64>,
}

/// op 5 SPEAKING.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceSpeaking {
    /// Speaking flags: 1 microphone, 2 soundshare, 4 priority; 0 silent.
    pub speaking: u32,
    /// The speaker's audio SSRC.
    #[serde(default)]
    pub ssrc: u32,
    /// Who is speaking (server → client only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Snowflake>,
    /// Delay in milliseconds (client → server; 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<u32>,
}

/// op 7 RESUME.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceResume {
    /// The guild.
    pub server_id: Snowflake,
    /// The main gateway session.
    pub session_id: String,
    /// The token from VOICE_SERVER_UPDATE.
    pub token: String,
}

/// op 11 CLIENTS_CONNECT.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientsConnect {
    /// The participants.
    pub user_ids: Vec<Snowflake>,
}

/// op 13 CLIENT_DISCONNECT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientDisconnect {
    /// The participant who left.
    pub user_id: Snowflake,
}

/// op 40 ICE_CANDIDATE.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceCandidate {
    /// The candidate line (`candidate:...`); empty for end-of-candidates.
    pub candidate: String,
    /// The media section's `mid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    /// The media section's index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_mline_index: Option<u16>,
}

/// A voice signaling payload, either way.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum VoicePayload {
    /// op 0.
    Identify(VoiceIdentify),
    /// op 1.
    SelectProtocol(SelectProtocol),
    /// op 2.
    Ready(VoiceReady),
    /// op 3.
    Heartbeat(VoiceHeartbeat),
    /// op 4.
    SessionDescription(SdpData),
    /// op 5.
    Speaking(VoiceSpeaking),
    /// op 6.
    HeartbeatAck(VoiceHeartbeat),
    /// op 7.
    Resume(VoiceResume),
    /// op 8.
    Hello(VoiceHello),
    /// op 9.
    Resumed,
    /// op 11.
    ClientsConnect(ClientsConnect),
    /// op 13.
    ClientDisconnect(ClientDisconnect),
    /// op 40.
    IceCandidate(IceCandidate),
}

#[derive(Deserialize)]
struct RawPayload<'a> {
    op: u64,
    #[serde(borrow, default)]
    d: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct OutPayload<'a, T: Serialize> {
    op: u8,
    d: &'a T,
}

fn data<T: DeserializeOwned>(d: Option<&RawValue>) -> Result<T, ProtoError> {
    let text = d.map_or("null", RawValue::get);
    Ok(serde_json::from_str(text)?)
}

impl VoicePayload {
    /// The payload's opcode.
    pub fn opcode(&self) -> VoiceOpCode {
        match self {
            VoicePayload::Identify(_) => VoiceOpCode::Identify,
            VoicePayload::SelectProtocol(_) => VoiceOpCode::SelectProtocol,
            VoicePayload::Ready(_) => VoiceOpCode::Ready,
            VoicePayload::Heartbeat(_) => VoiceOpCode::Heartbeat,
            VoicePayload::SessionDescription(_) => VoiceOpCode::SessionDescription,
            VoicePayload::Speaking(_) => VoiceOpCode::Speaking,
            VoicePayload::HeartbeatAck(_) => VoiceOpCode::HeartbeatAck,
            VoicePayload::Resume(_) => VoiceOpCode::Resume,
            VoicePayload::Hello(_) => VoiceOpCode::Hello,
            VoicePayload::Resumed => VoiceOpCode::Resumed,
            VoicePayload::ClientsConnect(_) => VoiceOpCode::ClientsConnect,
            VoicePayload::ClientDisconnect(_) => VoiceOpCode::ClientDisconnect,
            VoicePayload::IceCandidate(_) => VoiceOpCode::IceCandidate,
        }
    }

    /// Decodes a payload from JSON text. An opcode this protocol does not
    /// define is [`ProtoError::UnknownOpcode`] (close 4001); anything else
    /// that does not decode is [`ProtoError::Json`] (close 4002).
    pub fn from_json(text: &str) -> Result<VoicePayload, ProtoError> {
        let raw: RawPayload<'_> = serde_json::from_str(text)?;
        let op = u8::try_from(raw.op)
            .ok()
            .and_then(VoiceOpCode::from_u8)
            .ok_or(ProtoError::UnknownOpcode(raw.op))?;
        let d = raw.d;
        Ok(match op {
            VoiceOpCode::Identify => VoicePayload::Identify(data(d)?),
            VoiceOpCode::SelectProtocol => VoicePayload::SelectProtocol(data(d)?),
            VoiceOpCode::Ready => VoicePayload::Ready(data(d)?),
            VoiceOpCode::Heartbeat => VoicePayload::Heartbeat(data(d)?),
            VoiceOpCode::SessionDescription => VoicePayload::SessionDescription(data(d)?),
            VoiceOpCode::Speaking => VoicePayload::Speaking(data(d)?),
            VoiceOpCode::HeartbeatAck => VoicePayload::HeartbeatAck(data(d)?),
            VoiceOpCode::Resume => VoicePayload::Resume(data(d)?),
            VoiceOpCode::Hello => VoicePayload::Hello(data(d)?),
            VoiceOpCode::Resumed => VoicePayload::Resumed,
            VoiceOpCode::ClientsConnect => VoicePayload::ClientsConnect(data(d)?),
            VoiceOpCode::ClientDisconnect => VoicePayload::ClientDisconnect(data(d)?),
            VoiceOpCode::IceCandidate => VoicePayload::IceCandidate(data(d)?),
        })
    }

    /// Encodes the payload as JSON text.
    pub fn to_json(&self) -> String {
        fn out<T: Serialize>(op: VoiceOpCode, d: &T) -> String {
            serde_json::to_string(&OutPayload { op: op as u8, d })
                .expect("voice payloads always serialize")
        }
        let op = self.opcode();
        match self {
            VoicePayload::Identify(d) => out(op, d),
            VoicePayload::SelectProtocol(d) => out(op, d),
            VoicePayload::Ready(d) => out(op, d),
            VoicePayload::Heartbeat(d) | VoicePayload::HeartbeatAck(d) => out(op, d),
            VoicePayload::SessionDescription(d) => out(op, d),
            VoicePayload::Speaking(d) => out(op, d),
            VoicePayload::Resume(d) => out(op, d),
            VoicePayload::Hello(d) => out(op, d),
            VoicePayload::Resumed => out(op, &()),
            VoicePayload::ClientsConnect(d) => out(op, d),
            VoicePayload::ClientDisconnect(d) => out(op, d),
            VoicePayload::IceCandidate(d) => out(op, d),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_payload_round_trips_through_json() {
        let user = Snowflake::new(41771983423143936);
        let samples = vec![
            VoicePayload::Identify(VoiceIdentify {
                server_id: user,
                user_id: user,
                session_id: "s".into(),
                token: "t".into(),
            }),
            VoicePayload::SelectProtocol(SelectProtocol {
                protocol: "webrtc".into(),
                data: SdpData {
                    kind: SdpKind::Offer,
                    sdp: "v=0".into(),
                },
            }),
            VoicePayload::Ready(VoiceReady {
                ssrc: 7,
                modes: vec!["webrtc".into()],
                channel_id: user,
            }),
            VoicePayload::Heartbeat(VoiceHeartbeat {
                t: 5,
                seq_ack: Some(1),
            }),
            VoicePayload::SessionDescription(SdpData {
                kind: SdpKind::Answer,
                sdp: "v=0".into(),
            }),
            VoicePayload::Speaking(VoiceSpeaking {
                speaking: 1,
                ssrc: 7,
                user_id: Some(user),
                delay: None,
            }),
            VoicePayload::HeartbeatAck(VoiceHeartbeat {
                t: 5,
                seq_ack: None,
            }),
            VoicePayload::Resume(VoiceResume {
                server_id: user,
                session_id: "s".into(),
                token: "t".into(),
            }),
            VoicePayload::Hello(VoiceHello {
                heartbeat_interval: 13750.0,
            }),
            VoicePayload::Resumed,
            VoicePayload::ClientsConnect(ClientsConnect {
                user_ids: vec![user],
            }),
            VoicePayload::ClientDisconnect(ClientDisconnect { user_id: user }),
            VoicePayload::IceCandidate(IceCandidate {
                candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host".into(),
                sdp_mid: Some("0".into()),
                sdp_mline_index: Some(0),
            }),
        ];
        for payload in samples {
            let text = payload.to_json();
            let back = VoicePayload::from_json(&text).unwrap();
            assert_eq!(back, payload, "{text}");
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(value["op"], payload.opcode() as u8, "{text}");
        }
    }

    #[test]
    fn identify_reads_discords_field_names() {
        let text = r#"{"op":0,"d":{"server_id":"41771983423143937","user_id":"104694319306248192","session_id":"my_session_id","token":"my_token"}}"#;
        let VoicePayload::Identify(id) = VoicePayload::from_json(text).unwrap() else {
            panic!("not an identify");
        };
        assert_eq!(id.server_id.get(), 41771983423143937);
        assert_eq!(id.token, "my_token");
    }

    #[test]
    fn unknown_opcodes_and_bad_data_are_different_errors() {
        assert!(matches!(
            VoicePayload::from_json(r#"{"op":99,"d":{}}"#),
            Err(ProtoError::UnknownOpcode(99))
        ));
        assert!(matches!(
            VoicePayload::from_json(r#"{"op":0,"d":{"server_id":1}}"#),
            Err(ProtoError::Json(_))
        ));
        assert!(matches!(
            VoicePayload::from_json("not json"),
            Err(ProtoError::Json(_))
        ));
    }

    #[test]
    fn only_timeouts_and_crashes_may_reconnect() {
        assert!(VoiceCloseCode::SessionTimeout.can_reconnect());
        assert!(!VoiceCloseCode::Disconnected.can_reconnect());
        assert!(!VoiceCloseCode::AuthenticationFailed.can_reconnect());
        assert_eq!(VoiceCloseCode::RoomFull.code(), 4023);
    }
}
