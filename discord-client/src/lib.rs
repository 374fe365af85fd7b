#![doc = include_str!("../README.md")]

pub mod error;
pub mod gateway;
pub mod rest;

pub use error::{ClientError, Result};
pub use rest::{CreateMessage, MessagesQuery, RestClient, RestClientBuilder};
