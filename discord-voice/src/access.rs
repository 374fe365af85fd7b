//! What the voice layer asks the server that runs it: may this user join
//! this channel, and as what.

use async_trait::async_trait;
use discord_proto::Snowflake;
use discord_proto::model::Member;

/// A user's standing in a voice channel they may join.
#[derive(Clone, Debug, Default)]
pub struct ChannelAccess {
    /// The member record VOICE_STATE_UPDATE carries.
    pub member: Option<Member>,
    /// The channel's `user_limit` (0: none).
    pub user_limit: u32,
    /// Whether the user has SPEAK there; without it their audio is dropped
    /// (the voice state shows them suppressed).
    pub can_speak: bool,
    /// Server mute (the member's `mute`).
    pub mute: bool,
    /// Server deafen (the member's `deaf`).
    pub deaf: bool,
    /// The channel's `rtc_region`: which SFU nodes it prefers.
    pub rtc_region: Option<String>,
}

/// Why a user may not join a voice channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Denied {
    /// No such guild, channel or membership, or not a voice channel.
    NotFound,
    /// The user lacks CONNECT (or VIEW_CHANNEL) there.
    MissingPermission,
}

/// Answers permission questions for the voice layer; the server supplies
/// it (with discord-proto's permission algorithm over its stores).
#[async_trait]
pub trait VoiceAccess: Send + Sync + 'static {
    /// Whether `user_id` may connect to `channel_id` in `guild_id`, and
    /// with what standing.
    async fn check(
        &self,
        guild_id: Snowflake,
        channel_id: Snowflake,
        user_id: Snowflake,
    ) -> Result<ChannelAccess, Denied>;
}
