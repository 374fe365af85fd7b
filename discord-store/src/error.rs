//! The crate's one error type.

use std::error::Error as StdError;

/// A boxed error from a backend's driver.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// What can go wrong in a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The thing addressed does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule was broken (a username already taken, ...).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request cannot be carried out as asked (an expired invite, a
    /// limit out of range, ...).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The backend cannot be reached or refused the connection: retry
    /// later. Nothing was acknowledged.
    #[error("backend unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// The backend answered with an error or data we cannot read.
    #[error("backend error: {0}")]
    Backend(#[source] BoxError),
}

/// The crate's result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// Whether retrying later may succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => StoreError::NotFound("row"),
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(Box::new(e)),
            sqlx::Error::Database(ref db) if db.is_unique_violation() => {
                StoreError::Conflict(db.message().to_owned())
            }
            other => StoreError::Backend(Box::new(other)),
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Backend(Box::new(e))
    }
}
