//! Redis through the `redis` crate (feature `redis`): presence (a hash per
//! user with an expiry, plus a sorted set of deadlines for sweeping),
//! gateway sessions with their replay logs, voice states (a hash per
//! guild), and pub/sub between nodes (one
//! connection per subscriber, many topics on it, resubscribed after a
//! reconnect). Commands go through a `ConnectionManager`, which reconnects
//! on its own.
//!
//! Keys carry a prefix (`dstore:` by default) so several deployments or test
//! runs can share a server. Scripts touch keys they build from the prefix,
//! so this backend targets a single Redis server, not Redis Cluster. Each
//! script is a process-wide static, so its SHA-1 (sent with `EVALSHA`) is
//! computed once, not on every call.

mod presence;
mod pubsub;
mod session;
mod voice;

use std::time::Duration;

use redis::aio::ConnectionManager;

use crate::{Result, StoreError};

/// Presence, sessions, voice states and pub/sub on one Redis server.
#[derive(Clone)]
pub struct RedisStore {
    client: redis::Client,
    conn: ConnectionManager,
    prefix: String,
    capacity: usize,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://host:port/db`) with the default key
    /// prefix and replay-log bound.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, "dstore:", crate::DEFAULT_REPLAY_CAPACITY).await
    }

    /// Connects with a key prefix and a replay-log bound per session.
    pub async fn connect_with(url: &str, prefix: &str, capacity: usize) -> Result<Self> {
        let client = redis::Client::open(url).map_err(map_err)?;
        // Fail within seconds when the server is down (a clear error at
        // start-up) while still riding out short blips later.
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_number_of_retries(3)
            .set_max_delay(Duration::from_millis(500))
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(5)));
        let conn = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(map_err)?;
        Ok(RedisStore {
            client,
            conn,
            prefix: prefix.to_owned(),
            capacity: capacity.max(1),
        })
    }

    fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }
}

/// Connection trouble is `Unavailable`; anything else is a backend error.
pub(crate) fn map_err(e: redis::RedisError) -> StoreError {
    if e.is_io_error() || e.is_connection_refusal() || e.is_timeout() || e.is_connection_dropped() {
        StoreError::Unavailable(Box::new(e))
    } else {
        StoreError::Backend(Box::new(e))
    }
}
