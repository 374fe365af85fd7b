//! The gateway protocol: opcodes, close codes, the payload envelope, the
//! commands a client sends, the messages and events a server sends, and
//! intents.

mod close_code;
mod opcode;

pub use close_code::CloseCode;
pub use opcode::OpCode;
