//! REST API shapes shared by the server and clients: the error body and
//! error codes, rate-limit bodies and header names, and the gateway
//! discovery responses. Resource models live in [`crate::model`].

mod error;
mod gateway;

pub use error::{ErrorBody, FieldErrors, JsonErrorCode, RateLimited};
pub use gateway::{GatewayBot, GatewayInfo, SessionStartLimit};

/// Names of the rate-limit response headers.
pub mod headers {
    /// Requests allowed in the bucket's window.
    pub const LIMIT: &str = "X-RateLimit-Limit";
    /// Requests left in the window.
    pub const REMAINING: &str = "X-RateLimit-Remaining";
    /// Unix time (seconds, fractional) when the window resets.
    pub const RESET: &str = "X-RateLimit-Reset";
    /// Seconds (fractional) until the window resets.
    pub const RESET_AFTER: &str = "X-RateLimit-Reset-After";
    /// The bucket's opaque ID, shared by routes that share a limit.
    pub const BUCKET: &str = "X-RateLimit-Bucket";
    /// Present (`true`) on a 429 caused by the global limit.
    pub const GLOBAL: &str = "X-RateLimit-Global";
    /// `user`, `global` or `shared`: which limit a 429 came from.
    pub const SCOPE: &str = "X-RateLimit-Scope";
}
