//! Voice states: who is in which voice channel of a guild, with their mute
//! and deafen flags. Any node may change them (op 4 arrives wherever the
//! user's gateway session is) and every node reads them (GUILD_CREATE,
//! channel limits, the SFU node checking a token), so in cluster mode they
//! live in Redis; the embedded default keeps them in memory, as they
//! describe live connections.

use async_trait::async_trait;
use discord_proto::Snowflake;
use discord_proto::model::VoiceState;

use crate::Result;

/// What [`VoiceStateStore::join`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum VoiceJoin {
    /// The state was stored; `previous` is the one it replaced.
    Joined {
        /// The user's state before (another channel, other flags, an
        /// earlier session), if they had one in the guild.
        previous: Option<Box<VoiceState>>,
    },
    /// The channel already holds `limit` other users; nothing changed.
    Full,
}

/// Voice states per guild. Each user has at most one per guild. Every
/// method is atomic on its own, across nodes too.
#[async_trait]
pub trait VoiceStateStore: Send + Sync + 'static {
    /// Stores `state` (whose `channel_id` must be set) as the user's voice
    /// state in `guild_id`. If the user is not in that channel yet and
    /// `limit` users already are, nothing changes and [`VoiceJoin::Full`]
    /// is returned.
    async fn join(
        &self,
        guild_id: Snowflake,
        state: &VoiceState,
        limit: usize,
    ) -> Result<VoiceJoin>;
    /// Replaces the user's state with `new` only if it still equals
    /// `expected` (compare and set, for flag changes); `false` when it
    /// changed meanwhile or is gone. `new` keeps `expected`'s user,
    /// channel and session.
    async fn replace(
        &self,
        guild_id: Snowflake,
        expected: &VoiceState,
        new: &VoiceState,
    ) -> Result<bool>;
    /// Removes the user's state in the guild and returns it.
    async fn leave(&self, guild_id: Snowflake, user_id: Snowflake) -> Result<Option<VoiceState>>;
    /// The user's state in the guild.
    async fn get(&self, guild_id: Snowflake, user_id: Snowflake) -> Result<Option<VoiceState>>;
    /// Every voice state in the guild (what GUILD_CREATE carries).
    async fn guild(&self, guild_id: Snowflake) -> Result<Vec<VoiceState>>;
    /// The `(guild, user)` pairs whose state belongs to a gateway session
    /// (to take them out of voice when it ends).
    async fn of_session(&self, session_id: &str) -> Result<Vec<(Snowflake, Snowflake)>>;
}
