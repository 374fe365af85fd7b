//! What the gateway needs from the server that embeds it: who a token
//! belongs to, what a user's guilds hold, member search, and where voice
//! state changes go. The reference server implements these over
//! discord-store; tests implement them in memory.

use async_trait::async_trait;
use discord_proto::Snowflake;
use discord_proto::gateway::Intents;
use discord_proto::gateway::UpdateVoiceState;
use discord_proto::gateway::{GatewayGuild, ReadyApplication};
use discord_proto::model::{Member, User};

/// Who a token belongs to.
#[derive(Clone, Debug, PartialEq)]
pub struct Identity {
    /// The user (a bot user for bot tokens).
    pub user: User,
    /// The bot's application, sent in READY; `None` for user accounts.
    pub application: Option<ReadyApplication>,
    /// The privileged intents this identity may ask for; asking for others
    /// closes with 4014.
    pub allowed_privileged: Intents,
}

/// Why a token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The token is unknown or malformed (close 4004).
    #[error("invalid token")]
    InvalidToken,
    /// The data source could not answer (close 4000, the client may retry).
    #[error("authentication unavailable: {0}")]
    Unavailable(String),
}

/// A member search from REQUEST_GUILD_MEMBERS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberQuery {
    /// Members whose username or nickname starts with this (case
    /// insensitive); `""` matches everyone.
    Prefix(String),
    /// These users.
    Ids(Vec<Snowflake>),
}

/// The server's side of the gateway.
#[async_trait]
pub trait GatewayData: Send + Sync + 'static {
    /// Authenticates an IDENTIFY or RESUME token (`Bot ` prefix included as
    /// the client sent it).
    async fn authenticate(&self, token: &str) -> Result<Identity, AuthError>;

    /// Every guild the user is a member of, each with its roles, all its
    /// channels (with overwrites), all its members and its voice states. The
    /// gateway filters channels by permission and trims members to the
    /// session's `large_threshold`.
    async fn guilds(&self, user_id: Snowflake) -> Result<Vec<GatewayGuild>, String>;

    /// The IDs of the guilds a user is in (for presence changes of users
    /// with no session on this node).
    async fn guild_ids(&self, user_id: Snowflake) -> Result<Vec<Snowflake>, String>;

    /// Members of a guild matching `query`, at most `limit` (0: no limit).
    async fn members(
        &self,
        guild_id: Snowflake,
        query: &MemberQuery,
        limit: usize,
    ) -> Result<Vec<Member>, String>;
}

/// A session as the voice layer sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoiceSession {
    /// The session's ID (voice servers check it).
    pub session_id: String,
    /// The session's user.
    pub user_id: Snowflake,
}

/// Where op 4 VOICE_STATE_UPDATE goes; the voice crate implements it. The
/// hook answers through the gateway's publish API (VOICE_STATE_UPDATE to the
/// guild, VOICE_SERVER_UPDATE to the user).
#[async_trait]
pub trait VoiceHook: Send + Sync + 'static {
    /// A session asked to join, move or leave (`channel_id: None`) voice.
    async fn voice_state_update(&self, session: &VoiceSession, update: UpdateVoiceState);
    /// A session ended for good; leave any voice channel it was in.
    async fn session_ended(&self, session: &VoiceSession);
}
