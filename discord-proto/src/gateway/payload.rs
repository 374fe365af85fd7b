//! The gateway envelope `{op, d, s, t}` and the two directions of traffic:
//! [`ClientCommand`] (client → server) and [`ServerMessage`]
//! (server → client), each with `decode` and `encode`.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::OpCode;
use super::commands::{Identify, RequestGuildMembers, Resume, UpdatePresence, UpdateVoiceState};
use super::events::DispatchEvent;
use crate::ProtoError;

/// The envelope of every gateway payload, with `d` left undecoded.
#[derive(Debug, Deserialize)]
struct RawEnvelope<'a> {
    op: u64,
    #[serde(borrow, default)]
    d: Option<&'a RawValue>,
    #[serde(default)]
    s: Option<u64>,
    #[serde(borrow, default)]
    t: Option<std::borrow::Cow<'a, str>>,
}

/// The envelope as written.
#[derive(Serialize)]
struct OutEnvelope<'a, D: Serialize> {
    op: u8,
    d: D,
    #[serde(skip_serializing_if = "Option::is_none")]
    s: Option<Option<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    t: Option<Option<&'a str>>,
}

impl<'a> RawEnvelope<'a> {
    fn parse(bytes: &'a [u8]) -> Result<(OpCode, Self), ProtoError> {
        let env: RawEnvelope<'a> = serde_json::from_slice(bytes)?;
        let op = u8::try_from(env.op)
            .ok()
            .and_then(OpCode::from_u8)
            .ok_or(ProtoError::UnknownOpcode(env.op))?;
        Ok((op, env))
    }

    /// `d` decoded as `T`; a missing `d` reads as `null`.
    fn data<T: Deserialize<'a>>(&self, op: OpCode) -> Result<T, ProtoError> {
        let raw = self.d.map_or("null", RawValue::get);
        serde_json::from_str(raw).map_err(|source| ProtoError::InvalidPayload { op, source })
    }
}

fn write<D: Serialize>(
    op: OpCode,
    d: D,
    s: Option<Option<u64>>,
    t: Option<Option<&str>>,
) -> String {
    let env = OutEnvelope {
        op: op.get(),
        d,
        s,
        t,
    };
    // Serializing our own types to a String cannot fail: no maps with
    // non-string keys, no failing Serialize impls.
    serde_json::to_string(&env).unwrap_or_else(|e| {
        unreachable!("gateway payloads always serialize: {e}");
    })
}

/// A payload a client sends to the gateway.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ClientCommand {
    /// op 1: a heartbeat with the last sequence number received, if any.
    Heartbeat(Option<u64>),
    /// op 2: start a session.
    Identify(Box<Identify>),
    /// op 3: update presence.
    PresenceUpdate(Box<UpdatePresence>),
    /// op 4: join, move or leave voice.
    VoiceStateUpdate(Box<UpdateVoiceState>),
    /// op 6: resume a session.
    Resume(Box<Resume>),
    /// op 8: request guild members.
    RequestGuildMembers(Box<RequestGuildMembers>),
}

impl ClientCommand {
    /// Decodes a client payload. Errors map to close codes with
    /// [`ProtoError::close_code`]: bytes that are not a payload are 4002, an
    /// unknown opcode or one a client may not send is 4001.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtoError> {
        let (op, env) = RawEnvelope::parse(bytes)?;
        Ok(match op {
            OpCode::Heartbeat => ClientCommand::Heartbeat(env.data(op)?),
            OpCode::Identify => ClientCommand::Identify(env.data(op)?),
            OpCode::PresenceUpdate => ClientCommand::PresenceUpdate(env.data(op)?),
            OpCode::VoiceStateUpdate => ClientCommand::VoiceStateUpdate(env.data(op)?),
            OpCode::Resume => ClientCommand::Resume(env.data(op)?),
            OpCode::RequestGuildMembers => ClientCommand::RequestGuildMembers(env.data(op)?),
            other => return Err(ProtoError::WrongDirection(other)),
        })
    }

    /// The command's opcode.
    pub fn op(&self) -> OpCode {
        match self {
            ClientCommand::Heartbeat(_) => OpCode::Heartbeat,
            ClientCommand::Identify(_) => OpCode::Identify,
            ClientCommand::PresenceUpdate(_) => OpCode::PresenceUpdate,
            ClientCommand::VoiceStateUpdate(_) => OpCode::VoiceStateUpdate,
            ClientCommand::Resume(_) => OpCode::Resume,
            ClientCommand::RequestGuildMembers(_) => OpCode::RequestGuildMembers,
        }
    }

    /// Encodes the command as JSON text `{"op":..,"d":..}`.
    pub fn encode(&self) -> String {
        let op = self.op();
        match self {
            ClientCommand::Heartbeat(seq) => write(op, seq, None, None),
            ClientCommand::Identify(d) => write(op, d, None, None),
            ClientCommand::PresenceUpdate(d) => write(op, d, None, None),
            ClientCommand::VoiceStateUpdate(d) => write(op, d, None, None),
            ClientCommand::Resume(d) => write(op, d, None, None),
            ClientCommand::RequestGuildMembers(d) => write(op, d, None, None),
        }
    }
}

/// HELLO's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Milliseconds between heartbeats.
    pub heartbeat_interval: u64,
}

/// A payload the gateway sends to a client.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ServerMessage {
    /// op 0: an event, with the session's sequence number.
    Dispatch {
        /// The sequence number `s`.
        seq: u64,
        /// The event.
        event: DispatchEvent,
    },
    /// op 1: the server asks for a heartbeat now.
    Heartbeat,
    /// op 7: reconnect and resume.
    Reconnect,
    /// op 9: the session is invalid; `true` if it may be resumed.
    InvalidSession(bool),
    /// op 10: the first payload on a connection.
    Hello(Hello),
    /// op 11: the heartbeat was received.
    HeartbeatAck,
}

impl ServerMessage {
    /// Decodes a server payload. Unknown dispatch event names decode to
    /// [`DispatchEvent::Unknown`].
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtoError> {
        let (op, env) = RawEnvelope::parse(bytes)?;
        Ok(match op {
            OpCode::Dispatch => {
                let name = env
                    .t
                    .as_deref()
                    .ok_or(ProtoError::MissingDispatchField("t"))?;
                let seq = env.s.ok_or(ProtoError::MissingDispatchField("s"))?;
                let null = serde_json::value::RawValue::NULL;
                let data = env.d.unwrap_or(null);
                let event = DispatchEvent::from_raw(name, data)
                    .map_err(|source| ProtoError::InvalidPayload { op, source })?;
                ServerMessage::Dispatch { seq, event }
            }
            OpCode::Heartbeat => ServerMessage::Heartbeat,
            OpCode::Reconnect => ServerMessage::Reconnect,
            OpCode::InvalidSession => {
                ServerMessage::InvalidSession(env.data::<Option<bool>>(op)?.unwrap_or(false))
            }
            OpCode::Hello => ServerMessage::Hello(env.data(op)?),
            OpCode::HeartbeatAck => ServerMessage::HeartbeatAck,
            other => return Err(ProtoError::WrongDirection(other)),
        })
    }

    /// The message's opcode.
    pub fn op(&self) -> OpCode {
        match self {
            ServerMessage::Dispatch { .. } => OpCode::Dispatch,
            ServerMessage::Heartbeat => OpCode::Heartbeat,
            ServerMessage::Reconnect => OpCode::Reconnect,
            ServerMessage::InvalidSession(_) => OpCode::InvalidSession,
            ServerMessage::Hello(_) => OpCode::Hello,
            ServerMessage::HeartbeatAck => OpCode::HeartbeatAck,
        }
    }

    /// Encodes the message as JSON text with all four envelope fields, as
    /// Discord sends them (`s` and `t` are `null` except on dispatches).
    pub fn encode(&self) -> String {
        let op = self.op();
        let (s, t) = (Some(None), Some(None));
        match self {
            ServerMessage::Dispatch { seq, event } => {
                write(op, event, Some(Some(*seq)), Some(Some(event.name())))
            }
            ServerMessage::InvalidSession(resumable) => write(op, resumable, s, t),
            ServerMessage::Hello(hello) => write(op, hello, s, t),
            ServerMessage::Heartbeat | ServerMessage::Reconnect | ServerMessage::HeartbeatAck => {
                write(op, (), s, t)
            }
        }
    }
}

/// Encodes a dispatch from an event name, a sequence number and data already
/// serialized with [`DispatchEvent::to_raw`]: the cheap path for sending one
/// event to many sessions, each with its own `seq`.
pub fn encode_dispatch(name: &str, seq: u64, data: &RawValue) -> String {
    write(OpCode::Dispatch, data, Some(Some(seq)), Some(Some(name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_map_to_close_codes() {
        use crate::gateway::CloseCode;
        let cases: [(&[u8], CloseCode); 8] = [
            (b"not json", CloseCode::DecodeError),
            (b"[]", CloseCode::DecodeError),
            (b"{}", CloseCode::DecodeError),
            (br#"{"op":"2"}"#, CloseCode::DecodeError),
            (br#"{"op":5,"d":null}"#, CloseCode::UnknownOpcode),
            (br#"{"op":99999999999,"d":null}"#, CloseCode::UnknownOpcode),
            (
                br#"{"op":10,"d":{"heartbeat_interval":1}}"#,
                CloseCode::UnknownOpcode,
            ),
            (br#"{"op":2,"d":{"token":5}}"#, CloseCode::UnknownOpcode),
        ];
        for (bytes, code) in cases {
            let err = ClientCommand::decode(bytes).unwrap_err();
            assert_eq!(err.close_code(), code, "{}", String::from_utf8_lossy(bytes));
        }
    }

    /// The IDENTIFY serenity 0.12 sends: `compress: true` and a `since`
    /// that is a serialized `SystemTime` (read as `null`, as Discord does).
    #[test]
    fn serenity_identify_decodes() {
        let bytes = br#"{"op":2,"d":{"token":"t","shard":[0,1],"intents":33281,"compress":true,
            "large_threshold":250,"properties":{"browser":"serenity","device":"serenity","os":"linux"},
            "presence":{"afk":false,"since":{"secs_since_epoch":1764322324,"nanos_since_epoch":90477000},
            "status":"online","activities":[]}}}"#;
        let ClientCommand::Identify(identify) = ClientCommand::decode(bytes).unwrap() else {
            panic!("not an IDENTIFY");
        };
        let presence = identify.presence.expect("presence");
        assert_eq!(presence.since, None);
        let with_millis =
            br#"{"op":3,"d":{"since":91879201,"activities":[],"status":"idle","afk":true}}"#;
        let ClientCommand::PresenceUpdate(p) = ClientCommand::decode(with_millis).unwrap() else {
            panic!("not a PRESENCE_UPDATE");
        };
        assert_eq!(p.since, Some(91_879_201));
    }

    #[test]
    fn heartbeat_with_and_without_seq() {
        assert_eq!(
            ClientCommand::decode(br#"{"op":1,"d":251}"#).unwrap(),
            ClientCommand::Heartbeat(Some(251))
        );
        assert_eq!(
            ClientCommand::decode(br#"{"op":1,"d":null}"#).unwrap(),
            ClientCommand::Heartbeat(None)
        );
        assert_eq!(
            ClientCommand::decode(br#"{"op":1}"#).unwrap(),
            ClientCommand::Heartbeat(None)
        );
        assert_eq!(
            ClientCommand::Heartbeat(Some(7)).encode(),
            r#"{"op":1,"d":7}"#
        );
    }

    #[test]
    fn server_control_messages_encode_like_discord() {
        assert_eq!(
            ServerMessage::HeartbeatAck.encode(),
            r#"{"op":11,"d":null,"s":null,"t":null}"#
        );
        assert_eq!(
            ServerMessage::InvalidSession(false).encode(),
            r#"{"op":9,"d":false,"s":null,"t":null}"#
        );
        for m in [
            ServerMessage::Heartbeat,
            ServerMessage::Reconnect,
            ServerMessage::InvalidSession(true),
            ServerMessage::Hello(Hello {
                heartbeat_interval: 41250,
            }),
            ServerMessage::HeartbeatAck,
        ] {
            assert_eq!(ServerMessage::decode(m.encode().as_bytes()).unwrap(), m);
        }
    }

    #[test]
    fn dispatch_needs_name_and_seq_and_unknown_names_are_raw() {
        assert!(matches!(
            ServerMessage::decode(br#"{"op":0,"d":{},"s":1}"#),
            Err(ProtoError::MissingDispatchField("t"))
        ));
        assert!(matches!(
            ServerMessage::decode(br#"{"op":0,"d":{},"t":"X"}"#),
            Err(ProtoError::MissingDispatchField("s"))
        ));
        let m =
            ServerMessage::decode(br#"{"t":"FUTURE_THING","s":3,"op":0,"d":{"a":[1,2]}}"#).unwrap();
        let ServerMessage::Dispatch { seq, event } = &m else {
            panic!("not a dispatch: {m:?}")
        };
        assert_eq!(*seq, 3);
        assert_eq!(event.name(), "FUTURE_THING");
        assert!(
            matches!(event, DispatchEvent::Unknown { data, .. } if data.get() == r#"{"a":[1,2]}"#)
        );
        assert_eq!(
            m.encode(),
            r#"{"op":0,"d":{"a":[1,2]},"s":3,"t":"FUTURE_THING"}"#
        );
    }

    #[test]
    fn encode_dispatch_matches_encode() {
        let event = DispatchEvent::from_raw(
            "MESSAGE_DELETE",
            &RawValue::from_string(r#"{"id":"5","channel_id":"6"}"#.into()).unwrap(),
        )
        .unwrap();
        let raw = event.to_raw().unwrap();
        let msg = ServerMessage::Dispatch {
            seq: 9,
            event: event.clone(),
        };
        assert_eq!(encode_dispatch(event.name(), 9, &raw), msg.encode());
    }
}
