#![doc = include_str!("../README.md")]

mod access;
mod config;
mod error;
mod registry;
mod service;
mod sfu;
mod signaling;

pub use access::{ChannelAccess, Denied, VoiceAccess};
pub use config::VoiceConfig;
pub use error::{Result, VoiceError};
pub use registry::{Change, Grant, Registry};
pub use service::{JoinRefused, Voice};
pub use sfu::{Flags, Sfu, SfuStats};
