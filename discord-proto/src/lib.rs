#![doc = include_str!("../README.md")]

pub mod compression;
mod error;
pub mod gateway;
pub mod model;
pub mod permissions;
pub mod rest;
mod serde_util;
pub mod voice;

pub use discord_snowflake::Snowflake;
pub use error::ProtoError;
pub use gateway::Intents;
pub use permissions::Permissions;

/// The Discord API version this crate speaks.
pub const API_VERSION: u8 = 10;

#[cfg(test)]
mod assertions {
    //! Checks on the public types shared across tasks.
    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn shared_types_are_send_and_sync() {
        send_sync::<super::ProtoError>();
        send_sync::<super::gateway::ServerMessage>();
        send_sync::<super::gateway::ClientCommand>();
        send_sync::<super::compression::ZlibStreamEncoder>();
        send_sync::<super::compression::ZstdStreamEncoder>();
        send_sync::<super::compression::ZstdStreamDecoder>();
    }
}
