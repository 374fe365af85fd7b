#![doc = include_str!("../README.md")]

pub mod cache;
pub mod error;
pub mod gateway;
pub mod rest;
#[cfg(feature = "voice")]
pub mod voice;

pub use error::{ClientError, Result};
pub use rest::bodies::*;
pub use rest::{CreateMessage, MessagesQuery, RestClient, RestClientBuilder};
