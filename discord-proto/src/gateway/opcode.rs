//! Gateway opcodes: the `op` field of every gateway payload.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A gateway opcode, as in the `op` field of a payload.
///
/// Discord may add opcodes, so the enum is `#[non_exhaustive]`; an opcode
/// this crate does not know is a decode error ([`crate::ProtoError::UnknownOpcode`]),
/// which a server answers with close code 4001.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u8)]
pub enum OpCode {
    /// 0, server → client: an event was dispatched.
    Dispatch = 0,
    /// 1, both ways: a keep-alive, or the server asking for one now.
    Heartbeat = 1,
    /// 2, client → server: start a new session.
    Identify = 2,
    /// 3, client → server: update the client's presence.
    PresenceUpdate = 3,
    /// 4, client → server: join, move between or leave voice channels.
    VoiceStateUpdate = 4,
    /// 6, client → server: resume a previous session that was disconnected.
    Resume = 6,
    /// 7, server → client: reconnect and resume immediately.
    Reconnect = 7,
    /// 8, client → server: request members of a guild.
    RequestGuildMembers = 8,
    /// 9, server → client: the session is invalid; `d` says whether it may be resumed.
    InvalidSession = 9,
    /// 10, server → client: sent on connect, carries the heartbeat interval.
    Hello = 10,
    /// 11, server → client: a heartbeat was received.
    HeartbeatAck = 11,
}

impl OpCode {
    /// Every opcode, in numeric order.
    pub const ALL: [OpCode; 11] = [
        OpCode::Dispatch,
        OpCode::Heartbeat,
        OpCode::Identify,
        OpCode::PresenceUpdate,
        OpCode::VoiceStateUpdate,
        OpCode::Resume,
        OpCode::Reconnect,
        OpCode::RequestGuildMembers,
        OpCode::InvalidSession,
        OpCode::Hello,
        OpCode::HeartbeatAck,
    ];

    /// The opcode with this number, if there is one (5 is unused by Discord).
    pub const fn from_u8(op: u8) -> Option<OpCode> {
        Some(match op {
            0 => OpCode::Dispatch,
            1 => OpCode::Heartbeat,
            2 => OpCode::Identify,
            3 => OpCode::PresenceUpdate,
            4 => OpCode::VoiceStateUpdate,
            6 => OpCode::Resume,
            7 => OpCode::Reconnect,
            8 => OpCode::RequestGuildMembers,
            9 => OpCode::InvalidSession,
            10 => OpCode::Hello,
            11 => OpCode::HeartbeatAck,
            _ => return None,
        })
    }

    /// The opcode's number.
    pub const fn get(self) -> u8 {
        self as u8
    }

    /// Whether a client may send this opcode to a server.
    pub const fn is_client_command(self) -> bool {
        matches!(
            self,
            OpCode::Heartbeat
                | OpCode::Identify
                | OpCode::PresenceUpdate
                | OpCode::VoiceStateUpdate
                | OpCode::Resume
                | OpCode::RequestGuildMembers
        )
    }

    /// Whether a server may send this opcode to a client.
    pub const fn is_server_message(self) -> bool {
        matches!(
            self,
            OpCode::Dispatch
                | OpCode::Heartbeat
                | OpCode::Reconnect
                | OpCode::InvalidSession
                | OpCode::Hello
                | OpCode::HeartbeatAck
        )
    }
}

impl Serialize for OpCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.get())
    }
}

impl<'de> Deserialize<'de> for OpCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let n = u64::deserialize(deserializer)?;
        u8::try_from(n)
            .ok()
            .and_then(OpCode::from_u8)
            .ok_or_else(|| serde::de::Error::custom(format_args!("unknown opcode {n}")))
    }
}

#[cfg(test)]
mod tests {
    use super::OpCode;

    #[test]
    fn numbers_match_the_documented_table() {
        let table = [
            (0, OpCode::Dispatch, false, true),
            (1, OpCode::Heartbeat, true, true),
            (2, OpCode::Identify, true, false),
            (3, OpCode::PresenceUpdate, true, false),
            (4, OpCode::VoiceStateUpdate, true, false),
            (6, OpCode::Resume, true, false),
            (7, OpCode::Reconnect, false, true),
            (8, OpCode::RequestGuildMembers, true, false),
            (9, OpCode::InvalidSession, false, true),
            (10, OpCode::Hello, false, true),
            (11, OpCode::HeartbeatAck, false, true),
        ];
        for (n, op, client, server) in table {
            assert_eq!(op.get(), n);
            assert_eq!(OpCode::from_u8(n), Some(op));
            assert_eq!(op.is_client_command(), client, "{op:?}");
            assert_eq!(op.is_server_message(), server, "{op:?}");
        }
        assert_eq!(OpCode::ALL.len(), table.len());
    }

    #[test]
    fn unused_numbers_are_not_opcodes() {
        for n in [5u8, 12, 13, 255] {
            assert_eq!(OpCode::from_u8(n), None);
        }
        assert!(serde_json::from_str::<OpCode>("5").is_err());
        assert!(serde_json::from_str::<OpCode>("300").is_err());
        assert!(serde_json::from_str::<OpCode>("-1").is_err());
        assert_eq!(serde_json::from_str::<OpCode>("10").unwrap(), OpCode::Hello);
        assert_eq!(serde_json::to_string(&OpCode::HeartbeatAck).unwrap(), "11");
    }
}
