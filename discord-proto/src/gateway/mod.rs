//! The gateway protocol: opcodes, close codes, the payload envelope, the
//! commands a client sends, the messages and events a server sends, and
//! intents.
//!
//! ```
//! use discord_proto::gateway::{ClientCommand, ServerMessage, Hello};
//!
//! let hello = ServerMessage::Hello(Hello { heartbeat_interval: 41_250 });
//! assert_eq!(hello.encode(), r#"{"op":10,"d":{"heartbeat_interval":41250},"s":null,"t":null}"#);
//!
//! let cmd = ClientCommand::decode(br#"{"op":1,"d":42}"#).unwrap();
//! assert_eq!(cmd, ClientCommand::Heartbeat(Some(42)));
//! ```

mod close_code;
mod commands;
mod events;
mod intents;
mod opcode;
mod payload;

pub use close_code::CloseCode;
pub use commands::{
    ConnectionProperties, Identify, RequestGuildMembers, Resume, UpdatePresence, UpdateVoiceState,
};
pub use events::{
    DispatchEvent, GatewayGuild, GuildCreate, GuildMemberAdd, GuildMemberRemove, GuildMemberUpdate,
    GuildMembersChunk, GuildRoleDelete, GuildRoleEvent, InviteCreate, InviteDelete, MessageDelete,
    MessageDeleteBulk, MessageReactionAdd, MessageReactionRemove, PresenceUpdate, PresenceUser,
    Ready, ReadyApplication, TypingStart, VoiceServerUpdate,
};
pub use intents::Intents;
pub use opcode::OpCode;
pub use payload::{ClientCommand, Hello, ServerMessage, encode_dispatch};
