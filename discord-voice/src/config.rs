//! How a voice node is set up.

use std::net::IpAddr;
use std::time::Duration;

use crate::nodes::VoiceNode;
use crate::token::TokenKey;

/// Settings of a voice node (signaling plus SFU).
#[derive(Clone, Debug)]
pub struct VoiceConfig {
    /// The signaling WebSocket URL clients are sent to in
    /// VOICE_SERVER_UPDATE, e.g. `ws://127.0.0.1:8080/voice`.
    pub endpoint: String,
    /// This node's ID among [`VoiceConfig::nodes`].
    pub node_id: String,
    /// Every SFU node of the cluster, this one included. Empty: this node
    /// alone, at `endpoint`.
    pub nodes: Vec<VoiceNode>,
    /// The secret tokens are signed with; every node of a cluster needs
    /// the same one. Random by default, which suits a single node.
    pub token_key: TokenKey,
    /// The address media (UDP) is bound to and advertised on as an ICE host
    /// candidate.
    pub media_ip: IpAddr,
    /// Most participants in one channel (a channel's own `user_limit`, when
    /// lower, applies too).
    pub max_per_channel: usize,
    /// Most participants on this node across all channels.
    pub max_per_node: usize,
    /// HELLO's heartbeat interval; a connection silent for 1.5 times this
    /// is closed with 4009.
    pub heartbeat_interval: Duration,
    /// How long a VOICE_SERVER_UPDATE token may wait for IDENTIFY.
    pub token_ttl: Duration,
    /// How long a participant whose signaling connection dropped keeps its
    /// media and may RESUME.
    pub resume_window: Duration,
    /// How long after the last voiced audio packet a speaker counts as
    /// silent.
    pub speaking_hangover: Duration,
}

impl VoiceConfig {
    /// Defaults for a node whose signaling is at `endpoint`.
    pub fn new(endpoint: impl Into<String>) -> VoiceConfig {
        VoiceConfig {
            endpoint: endpoint.into(),
            node_id: "local".into(),
            nodes: Vec::new(),
            token_key: TokenKey::random(),
            media_ip: IpAddr::from([127, 0, 0, 1]),
            max_per_channel: 99,
            max_per_node: 1000,
            heartbeat_interval: Duration::from_millis(13_750),
            token_ttl: Duration::from_secs(60),
            resume_window: Duration::from_secs(30),
            speaking_hangover: Duration::from_millis(250),
        }
    }
}

impl VoiceConfig {
    /// The nodes channels are spread over: [`VoiceConfig::nodes`], or this
    /// node alone.
    pub(crate) fn node_list(&self) -> Vec<VoiceNode> {
        if self.nodes.is_empty() {
            vec![VoiceNode::new(self.node_id.clone(), self.endpoint.clone())]
        } else {
            self.nodes.clone()
        }
    }
}
