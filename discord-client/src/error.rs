//! The crate's one error type.

use discord_proto::rest::ErrorBody;

/// What can go wrong talking to the API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The request could not be sent or its answer not received.
    #[error("HTTP transport error: {0}")]
    Transport(#[from] reqwest::Error),
    /// The API answered with an error status and Discord's error body.
    #[error("API error {status}: {} (code {})", body.message, body.code.0)]
    Api {
        /// The HTTP status.
        status: u16,
        /// The body: `{code, message, errors}`.
        body: ErrorBody,
    },
    /// The API answered with a body we cannot read.
    #[error("unreadable response ({status}): {source}")]
    Decode {
        /// The HTTP status.
        status: u16,
        /// Why.
        source: serde_json::Error,
    },
    /// Still rate limited after retrying (the server kept answering 429).
    #[error("still rate limited after {0} retries")]
    RateLimited(u32),
    /// Voice signaling or WebRTC failed.
    #[error("voice: {0}")]
    Voice(String),
    /// The voice server closed the signaling connection (with this close
    /// code, if it sent one).
    #[error("voice connection closed ({0:?})")]
    VoiceClosed(Option<u16>),
}

/// The crate's result type.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;
