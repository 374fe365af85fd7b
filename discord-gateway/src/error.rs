//! The crate's error type.

/// What can go wrong in the gateway outside a client's own mistakes (those
/// become close codes).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// A store (sessions, presence, pub/sub) failed.
    #[error("store: {0}")]
    Store(#[from] discord_store::StoreError),
    /// The server's data source failed.
    #[error("gateway data source: {0}")]
    Data(String),
    /// An event could not be encoded or decoded.
    #[error("event encoding: {0}")]
    Json(#[from] serde_json::Error),
    /// Binding or serving a socket failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// `Result` with [`GatewayError`].
pub type Result<T, E = GatewayError> = std::result::Result<T, E>;
