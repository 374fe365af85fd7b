#![doc = include_str!("../README.md")]

mod error;
pub mod gateway;

pub use discord_snowflake::Snowflake;
pub use error::ProtoError;

/// The Discord API version this crate speaks.
pub const API_VERSION: u8 = 10;
