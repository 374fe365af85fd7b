#![doc = include_str!("../README.md")]

pub mod config;
mod connection;
pub mod data;
pub mod error;
pub mod event;
pub mod frame;
mod gateway;
mod hub;
mod listen;
mod logged;
pub mod protocol;
mod pump;
mod socket;
#[cfg(feature = "fanout-timing")]
pub mod timing;
pub mod view;
mod writer;

pub use config::GatewayConfig;
pub use data::{AuthError, GatewayData, Identity, MemberQuery, VoiceHook, VoiceSession};
pub use error::{GatewayError, Result};
pub use event::Event;
pub use gateway::{Gateway, GatewayStores};
pub use listen::{LISTEN_BACKLOG, listen};
