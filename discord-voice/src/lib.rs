#![doc = include_str!("../README.md")]

mod access;
mod config;
mod error;
mod nodes;
mod service;
mod sfu;
mod signaling;
mod token;

pub use access::{ChannelAccess, Denied, VoiceAccess};
pub use config::VoiceConfig;
pub use error::{Result, VoiceError};
pub use nodes::{VoiceNode, pick};
pub use service::{JoinRefused, Voice};
pub use sfu::{Flags, Sfu, SfuStats};
pub use token::{Grant, TokenKey};
