//! Commands a client sends to the gateway (opcodes 1, 2, 3, 4, 6 and 8).

use serde::{Deserialize, Serialize};

use super::Intents;
use crate::Snowflake;
use crate::model::{Activity, Status};

/// op 2 IDENTIFY: starts a new session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identify {
    /// The authentication token (`Bot ` prefixed or not, as the client sends it).
    pub token: String,
    /// Information about the client.
    pub properties: ConnectionProperties,
    /// Whether the client wants per-payload zlib compression (not transport
    /// compression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compress: Option<bool>,
    /// Member count (50-250) above which a guild's offline members are left
    /// out of GUILD_CREATE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_threshold: Option<u32>,
    /// `[shard_id, num_shards]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<[u32; 2]>,
    /// The presence to start with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence: Option<UpdatePresence>,
    /// The events the session wants.
    pub intents: Intents,
}

/// The `properties` of an IDENTIFY.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionProperties {
    /// Operating system.
    #[serde(default)]
    pub os: String,
    /// Library name.
    #[serde(default)]
    pub browser: String,
    /// Library name.
    #[serde(default)]
    pub device: String,
}

/// op 6 RESUME: continues a session after a disconnect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    /// The session's token.
    pub token: String,
    /// The `session_id` from READY.
    pub session_id: String,
    /// The last sequence number the client received.
    pub seq: u64,
}

/// op 3 PRESENCE_UPDATE (and IDENTIFY's `presence`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdatePresence {
    /// Unix milliseconds since the client went idle, `null` if not idle.
    /// A value of another shape is read as `null` rather than refused:
    /// serenity 0.12 sends a serialized `SystemTime` object here, and
    /// Discord accepts it.
    #[serde(default, deserialize_with = "crate::serde_util::lenient_millis")]
    pub since: Option<u64>,
    /// The user's activities.
    #[serde(default)]
    pub activities: Vec<Activity>,
    /// The new status.
    #[serde(default = "online")]
    pub status: Status,
    /// Whether the client is AFK.
    #[serde(default)]
    pub afk: bool,
}

fn online() -> Status {
    Status::Online
}

/// op 4 VOICE_STATE_UPDATE: joins, moves between or leaves voice channels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateVoiceState {
    /// The guild.
    pub guild_id: Snowflake,
    /// The channel to join or move to; `null` to leave.
    pub channel_id: Option<Snowflake>,
    /// Whether the client is muted.
    #[serde(default)]
    pub self_mute: bool,
    /// Whether the client is deafened.
    #[serde(default)]
    pub self_deaf: bool,
}

/// op 8 REQUEST_GUILD_MEMBERS: asks for members, answered by
/// GUILD_MEMBERS_CHUNK events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestGuildMembers {
    /// The guild.
    pub guild_id: Snowflake,
    /// Usernames starting with this; `""` for all members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Maximum members to send; 0 for no limit (with an empty query).
    #[serde(default)]
    pub limit: u32,
    /// Whether to include presences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presences: Option<bool>,
    /// Specific users to fetch (Discord accepts one ID or an array).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "one_or_many"
    )]
    pub user_ids: Option<Vec<Snowflake>>,
    /// Echoed in the GUILD_MEMBERS_CHUNK events (up to 32 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<Snowflake>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(Snowflake),
        Many(Vec<Snowflake>),
    }
    Ok(match Option::<OneOrMany>::deserialize(deserializer)? {
        None => None,
        Some(OneOrMany::One(id)) => Some(vec![id]),
        Some(OneOrMany::Many(ids)) => Some(ids),
    })
}
