//! `GET /gateway` and `GET /gateway/bot` responses.

use serde::{Deserialize, Serialize};

/// `GET /gateway`: where to connect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayInfo {
    /// The WebSocket URL.
    pub url: String,
}

/// `GET /gateway/bot`: where to connect, how many shards to use and how many
/// IDENTIFYs are left.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayBot {
    /// The WebSocket URL.
    pub url: String,
    /// The recommended number of shards.
    pub shards: u32,
    /// The IDENTIFY budget.
    pub session_start_limit: SessionStartLimit,
}

/// How many sessions a bot may start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStartLimit {
    /// Sessions allowed per period.
    pub total: u32,
    /// Sessions left in this period.
    pub remaining: u32,
    /// Milliseconds until the period resets.
    pub reset_after: u64,
    /// IDENTIFYs allowed per 5 seconds.
    pub max_concurrency: u32,
}
