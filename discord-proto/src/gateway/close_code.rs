//! Gateway close codes: why a server closed the WebSocket, and whether the
//! client should try again.

/// A close code the gateway sends when it ends a session (4000-4014).
///
/// Discord does not use 4006. Codes outside this table (for example 1000 or
/// 1001 from the WebSocket layer) are not `CloseCode`s; see
/// [`CloseCode::from_u16`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u16)]
pub enum CloseCode {
    /// 4000: something went wrong on the server; reconnect.
    UnknownError = 4000,
    /// 4001: an invalid opcode, or an invalid payload for an opcode.
    UnknownOpcode = 4001,
    /// 4002: a payload that does not decode.
    DecodeError = 4002,
    /// 4003: a payload sent before IDENTIFY.
    NotAuthenticated = 4003,
    /// 4004: the token in IDENTIFY is wrong.
    AuthenticationFailed = 4004,
    /// 4005: a second IDENTIFY on an identified session.
    AlreadyAuthenticated = 4005,
    /// 4007: RESUME with a sequence number the server cannot use.
    InvalidSeq = 4007,
    /// 4008: payloads sent too fast.
    RateLimited = 4008,
    /// 4009: the session timed out; reconnect and start a new one.
    SessionTimedOut = 4009,
    /// 4010: an invalid shard in IDENTIFY.
    InvalidShard = 4010,
    /// 4011: the session would handle too many guilds; shard.
    ShardingRequired = 4011,
    /// 4012: an invalid gateway API version.
    InvalidApiVersion = 4012,
    /// 4013: invalid intents (an undefined bit).
    InvalidIntents = 4013,
    /// 4014: intents the application is not allowed (privileged, not enabled).
    DisallowedIntents = 4014,
}

impl CloseCode {
    /// Every close code, in numeric order.
    pub const ALL: [CloseCode; 14] = [
        CloseCode::UnknownError,
        CloseCode::UnknownOpcode,
        CloseCode::DecodeError,
        CloseCode::NotAuthenticated,
        CloseCode::AuthenticationFailed,
        CloseCode::AlreadyAuthenticated,
        CloseCode::InvalidSeq,
        CloseCode::RateLimited,
        CloseCode::SessionTimedOut,
        CloseCode::InvalidShard,
        CloseCode::ShardingRequired,
        CloseCode::InvalidApiVersion,
        CloseCode::InvalidIntents,
        CloseCode::DisallowedIntents,
    ];

    /// The close code with this number, if it is one of Discord's.
    pub const fn from_u16(code: u16) -> Option<CloseCode> {
        Some(match code {
            4000 => CloseCode::UnknownError,
            4001 => CloseCode::UnknownOpcode,
            4002 => CloseCode::DecodeError,
            4003 => CloseCode::NotAuthenticated,
            4004 => CloseCode::AuthenticationFailed,
            4005 => CloseCode::AlreadyAuthenticated,
            4007 => CloseCode::InvalidSeq,
            4008 => CloseCode::RateLimited,
            4009 => CloseCode::SessionTimedOut,
            4010 => CloseCode::InvalidShard,
            4011 => CloseCode::ShardingRequired,
            4012 => CloseCode::InvalidApiVersion,
            4013 => CloseCode::InvalidIntents,
            4014 => CloseCode::DisallowedIntents,
            _ => return None,
        })
    }

    /// The code's number, as sent in the WebSocket close frame.
    pub const fn get(self) -> u16 {
        self as u16
    }

    /// Whether a client that receives this code may reconnect (and try to
    /// resume). The codes that mean "fix your code or configuration first"
    /// (bad token, shard, version or intents) forbid it.
    pub const fn can_reconnect(self) -> bool {
        !matches!(
            self,
            CloseCode::AuthenticationFailed
                | CloseCode::InvalidShard
                | CloseCode::ShardingRequired
                | CloseCode::InvalidApiVersion
                | CloseCode::InvalidIntents
                | CloseCode::DisallowedIntents
        )
    }

    /// A short human-readable reason, suitable for the close frame's reason
    /// text (well under the 123-byte limit).
    pub const fn reason(self) -> &'static str {
        match self {
            CloseCode::UnknownError => "Unknown error.",
            CloseCode::UnknownOpcode => "Unknown opcode or invalid payload for the opcode.",
            CloseCode::DecodeError => "Error while decoding payload.",
            CloseCode::NotAuthenticated => "Not authenticated.",
            CloseCode::AuthenticationFailed => "Authentication failed.",
            CloseCode::AlreadyAuthenticated => "Already authenticated.",
            CloseCode::InvalidSeq => "Invalid seq.",
            CloseCode::RateLimited => "Rate limited.",
            CloseCode::SessionTimedOut => "Session timed out.",
            CloseCode::InvalidShard => "Invalid shard.",
            CloseCode::ShardingRequired => "Sharding required.",
            CloseCode::InvalidApiVersion => "Invalid API version.",
            CloseCode::InvalidIntents => "Invalid intent(s).",
            CloseCode::DisallowedIntents => "Disallowed intent(s).",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CloseCode;

    #[test]
    fn numbers_and_reconnect_rules_match_the_documented_table() {
        let table = [
            (4000, true),
            (4001, true),
            (4002, true),
            (4003, true),
            (4004, false),
            (4005, true),
            (4007, true),
            (4008, true),
            (4009, true),
            (4010, false),
            (4011, false),
            (4012, false),
            (4013, false),
            (4014, false),
        ];
        assert_eq!(table.len(), CloseCode::ALL.len());
        for ((n, reconnect), code) in table.into_iter().zip(CloseCode::ALL) {
            assert_eq!(code.get(), n);
            assert_eq!(CloseCode::from_u16(n), Some(code));
            assert_eq!(code.can_reconnect(), reconnect, "{code:?}");
            assert!(code.reason().len() <= 123);
        }
    }

    #[test]
    fn codes_outside_the_table_are_none() {
        for n in [1000, 1001, 3999, 4006, 4015] {
            assert_eq!(CloseCode::from_u16(n), None);
        }
    }
}
