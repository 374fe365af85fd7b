#![doc = include_str!("../README.md")]

pub mod access;
pub mod auth;
pub mod config;
pub mod convert;
pub mod error;
pub mod gateway_data;
pub mod metrics;
pub mod ratelimit;
pub mod routes;
pub mod server;
pub mod slowmode;
pub mod state;
pub mod voice;

pub use config::{Config, Flags};
pub use error::{ApiError, ApiResult};
pub use server::{RunningServer, Server, StartError, open_stores};
pub use state::AppState;
