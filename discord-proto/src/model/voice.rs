//! Voice states: who is in which voice channel, muted or deafened.

use serde::{Deserialize, Serialize};

use super::{Member, Timestamp};
use crate::Snowflake;

/// A user's voice connection state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceState {
    /// The guild (absent where implied, such as inside GUILD_CREATE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Snowflake>,
    /// The voice channel, `null` when the user left voice.
    #[serde(default)]
    pub channel_id: Option<Snowflake>,
    /// The user.
    pub user_id: Snowflake,
    /// The user's member record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<Member>,
    /// The gateway session the voice state belongs to.
    pub session_id: String,
    /// Deafened by the server.
    #[serde(default)]
    pub deaf: bool,
    /// Muted by the server.
    #[serde(default)]
    pub mute: bool,
    /// Deafened by the user.
    #[serde(default)]
    pub self_deaf: bool,
    /// Muted by the user.
    #[serde(default)]
    pub self_mute: bool,
    /// Streaming with "Go Live".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_stream: Option<bool>,
    /// Camera on.
    #[serde(default)]
    pub self_video: bool,
    /// Suppressed (cannot speak) in a stage channel.
    #[serde(default)]
    pub suppress: bool,
    /// When the user asked to speak in a stage channel.
    #[serde(default)]
    pub request_to_speak_timestamp: Option<Timestamp>,
}
