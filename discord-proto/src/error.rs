//! The crate's one error type, with the gateway close code each error earns.

use crate::gateway::{CloseCode, OpCode};

/// What can go wrong decoding or encoding the wire protocol.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtoError {
    /// The bytes are not the JSON of a gateway payload (or not JSON at all).
    #[error("payload is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The opcode is not one this crate knows.
    #[error("unknown opcode {0}")]
    UnknownOpcode(u64),
    /// The opcode is known but may not be sent in this direction
    /// (a client sending HELLO, a server sending IDENTIFY).
    #[error("opcode {0:?} is not valid in this direction")]
    WrongDirection(OpCode),
    /// The `d` field does not match what the opcode requires.
    #[error("invalid payload for opcode {op:?}: {source}")]
    InvalidPayload {
        /// The payload's opcode.
        op: OpCode,
        /// Why its data did not decode.
        #[source]
        source: serde_json::Error,
    },
    /// A dispatch (op 0) without its event name or sequence number.
    #[error("dispatch without {0}")]
    MissingDispatchField(&'static str),
    /// Compressed data that cannot be decompressed.
    #[error("transport compression: {0}")]
    Compression(String),
    /// A decompressed message is larger than the decoder's limit.
    #[error("message exceeds the {limit}-byte limit")]
    TooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
}

impl ProtoError {
    /// The gateway close code a server sends when a client's frame fails
    /// this way: 4001 for an opcode it may not send, 4002 for anything that
    /// does not decode.
    pub fn close_code(&self) -> CloseCode {
        match self {
            ProtoError::UnknownOpcode(_) | ProtoError::WrongDirection(_) => {
                CloseCode::UnknownOpcode
            }
            // Discord documents 4001 also for "an invalid payload for an opcode".
            ProtoError::InvalidPayload { .. } => CloseCode::UnknownOpcode,
            _ => CloseCode::DecodeError,
        }
    }
}
