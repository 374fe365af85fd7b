//! Who may do what: loads a guild, its roles and the caller's membership
//! and answers permission questions with discord-proto's algorithm.

use discord_proto::model::{Channel, Guild, Role, Timestamp};
use discord_proto::permissions::MemberPermissions;
use discord_proto::rest::JsonErrorCode;
use discord_proto::{Permissions, Snowflake};
use discord_store::guild::MemberRecord;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A guild as seen by one of its members.
#[derive(Clone, Debug)]
pub struct GuildAccess {
    /// The guild.
    pub guild: Guild,
    /// Its roles (@everyone included).
    pub roles: Vec<Role>,
    /// The caller's membership.
    pub member: MemberRecord,
}

impl GuildAccess {
    /// Loads `guild_id` for `user_id`: 404 10004 if there is no such guild,
    /// 403 50001 if the user is not a member.
    pub async fn load(
        state: &AppState,
        guild_id: Snowflake,
        user_id: Snowflake,
    ) -> ApiResult<Self> {
        Self::load_from(state.stores.guilds.as_ref(), guild_id, user_id).await
    }

    /// [`GuildAccess::load`] from a store directly.
    pub async fn load_from(
        guilds: &dyn discord_store::GuildStore,
        guild_id: Snowflake,
        user_id: Snowflake,
    ) -> ApiResult<Self> {
        // Three independent reads, in flight together.
        let (guild, member, roles) = tokio::join!(
            guilds.guild(guild_id),
            guilds.member(guild_id, user_id),
            guilds.roles(guild_id),
        );
        let guild = guild?.ok_or_else(|| ApiError::unknown(JsonErrorCode::UNKNOWN_GUILD))?;
        let member = member?.ok_or_else(ApiError::missing_access)?;
        Ok(GuildAccess {
            guild,
            roles: roles?,
            member,
        })
    }

    fn perms(&self) -> MemberPermissions<'_> {
        let timed_out = self
            .member
            .communication_disabled_until
            .is_some_and(|t| t > Timestamp::now());
        MemberPermissions::new(
            self.guild.id,
            self.guild.owner_id,
            &self.roles,
            self.member.user_id,
            &self.member.roles,
        )
        .timed_out(timed_out)
    }

    /// Whether the caller owns the guild.
    pub fn is_owner(&self) -> bool {
        self.guild.owner_id == self.member.user_id
    }

    /// The caller's guild-wide permissions.
    pub fn guild_permissions(&self) -> Permissions {
        self.perms().guild()
    }

    /// The caller's permissions in `channel`.
    pub fn channel_permissions(&self, channel: &Channel) -> Permissions {
        self.perms().channel(channel.kind, channel.overwrites())
    }

    /// 403 50013 unless the caller has all of `needed` guild-wide.
    pub fn require(&self, needed: Permissions) -> ApiResult<()> {
        if self.guild_permissions().contains(needed) {
            Ok(())
        } else {
            Err(ApiError::missing_permissions())
        }
    }

    /// The position of the caller's highest role (0 for @everyone only);
    /// the owner outranks everyone.
    pub fn top_position(&self) -> i32 {
        if self.is_owner() {
            return i32::MAX;
        }
        self.position_of(&self.member.roles)
    }

    /// The highest position among these roles.
    pub fn position_of(&self, roles: &[Snowflake]) -> i32 {
        self.roles
            .iter()
            .filter(|r| roles.contains(&r.id))
            .map(|r| r.position)
            .max()
            .unwrap_or(0)
    }

    /// 403 50013 unless the caller's top role is above `position` (the
    /// owner always is).
    pub fn require_above(&self, position: i32) -> ApiResult<()> {
        if self.top_position() > position {
            Ok(())
        } else {
            Err(ApiError::missing_permissions())
        }
    }
}

/// A guild channel and the caller's access to it.
#[derive(Clone, Debug)]
pub struct ChannelAccess {
    /// The channel.
    pub channel: Channel,
    /// Its guild as the caller sees it.
    pub guild: GuildAccess,
    /// The caller's permissions in the channel.
    pub permissions: Permissions,
}

impl ChannelAccess {
    /// Loads a channel the caller can see: 404 10003 if it does not exist,
    /// 403 50001 if the caller is not in its guild or lacks VIEW_CHANNEL.
    pub async fn load(
        state: &AppState,
        channel_id: Snowflake,
        user_id: Snowflake,
    ) -> ApiResult<Self> {
        let channel = state
            .stores
            .guilds
            .channel(channel_id)
            .await?
            .ok_or_else(|| ApiError::unknown(JsonErrorCode::UNKNOWN_CHANNEL))?;
        let guild_id = channel
            .guild_id
            .ok_or_else(|| ApiError::unknown(JsonErrorCode::UNKNOWN_CHANNEL))?;
        let guild = GuildAccess::load(state, guild_id, user_id).await?;
        let permissions = guild.channel_permissions(&channel);
        if !permissions.contains(Permissions::VIEW_CHANNEL) {
            return Err(ApiError::missing_access());
        }
        Ok(ChannelAccess {
            channel,
            guild,
            permissions,
        })
    }

    /// 403 50013 unless the caller has all of `needed` in the channel.
    pub fn require(&self, needed: Permissions) -> ApiResult<()> {
        if self.permissions.contains(needed) {
            Ok(())
        } else {
            Err(ApiError::missing_permissions())
        }
    }

    /// The channel's guild ID.
    pub fn guild_id(&self) -> Snowflake {
        self.guild.guild.id
    }
}

/// The permissions @everyone gets in a new guild.
pub fn default_everyone() -> Permissions {
    Permissions::CREATE_INSTANT_INVITE
        | Permissions::ADD_REACTIONS
        | Permissions::STREAM
        | Permissions::VIEW_CHANNEL
        | Permissions::SEND_MESSAGES
        | Permissions::EMBED_LINKS
        | Permissions::ATTACH_FILES
        | Permissions::READ_MESSAGE_HISTORY
        | Permissions::MENTION_EVERYONE
        | Permissions::USE_EXTERNAL_EMOJIS
        | Permissions::CONNECT
        | Permissions::SPEAK
        | Permissions::USE_VAD
        | Permissions::CHANGE_NICKNAME
        | Permissions::USE_APPLICATION_COMMANDS
        | Permissions::REQUEST_TO_SPEAK
        | Permissions::CREATE_PUBLIC_THREADS
        | Permissions::CREATE_PRIVATE_THREADS
        | Permissions::USE_EXTERNAL_STICKERS
        | Permissions::SEND_MESSAGES_IN_THREADS
        | Permissions::USE_EMBEDDED_ACTIVITIES
        | Permissions::SEND_VOICE_MESSAGES
        | Permissions::SEND_POLLS
}
