//! Tunables of a gateway node, with defaults that match Discord's behaviour.

use std::time::Duration;

/// How a gateway node behaves. [`GatewayConfig::default`] follows Discord.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// This node's name; sessions record it so a RESUME on another node can
    /// ask this one to hand the session over.
    pub node_id: String,
    /// The `heartbeat_interval` sent in HELLO.
    pub heartbeat_interval: Duration,
    /// How long after the last heartbeat (or HELLO) a connection is declared
    /// a zombie and closed with 4009; it stays resumable.
    pub heartbeat_timeout: Duration,
    /// How long a connection may take to send IDENTIFY or RESUME.
    pub identify_timeout: Duration,
    /// Commands a client may send per [`GatewayConfig::command_window`]
    /// (Discord: 120 per 60 s); one more closes with 4008.
    pub commands_per_window: u32,
    /// The window for [`GatewayConfig::commands_per_window`].
    pub command_window: Duration,
    /// The largest frame a client may send, in bytes (Discord documents
    /// 4096 for gateway payloads); larger frames close the connection.
    pub max_frame_size: usize,
    /// Events that may wait for a session's socket; a session whose queue
    /// overflows is closed with a resumable code and catches up by RESUME.
    pub outbound_queue: usize,
    /// How long a disconnected session stays resumable. (How many events
    /// its replay log keeps is the session store's setting, e.g.
    /// `MemorySessions::new(capacity)`.)
    pub resume_window: Duration,
    /// How long a presence lives in the presence store without a refresh
    /// (each heartbeat refreshes it).
    pub presence_ttl: Duration,
    /// A bot in more guilds than this must shard (close 4011).
    pub max_guilds_per_shard: usize,
    /// The URL clients are told to resume at (`resume_gateway_url`).
    pub resume_gateway_url: String,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            node_id: "gateway-0".into(),
            heartbeat_interval: Duration::from_millis(41_250),
            heartbeat_timeout: Duration::from_millis(41_250 * 2),
            identify_timeout: Duration::from_secs(30),
            commands_per_window: 120,
            command_window: Duration::from_secs(60),
            max_frame_size: 4096,
            outbound_queue: 1024,
            resume_window: Duration::from_secs(180),
            presence_ttl: Duration::from_secs(120),
            max_guilds_per_shard: 2500,
            resume_gateway_url: "ws://127.0.0.1:8080".into(),
        }
    }
}
