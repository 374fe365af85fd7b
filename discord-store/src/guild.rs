//! The guild store: users and their credentials, bot applications, guilds,
//! channels, roles, members and invites.

use async_trait::async_trait;
use discord_proto::Snowflake;
use discord_proto::model::{Channel, Guild, Role, Timestamp, User};
use serde::{Deserialize, Serialize};

use crate::Result;

/// A user with the hash of its password (bots have none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    /// The user.
    pub user: User,
    /// A PHC-format password hash (argon2id), for users who log in.
    pub password_hash: Option<String>,
}

/// A bot application and its bot user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationRecord {
    /// The application's ID (also its bot user's ID, as on Discord).
    pub id: Snowflake,
    /// Its name.
    pub name: String,
    /// Its description.
    #[serde(default)]
    pub description: String,
    /// The user who owns it.
    pub owner_id: Snowflake,
    /// Its bot user.
    pub bot_user_id: Snowflake,
    /// Application flags (privileged intents allowed, ...).
    #[serde(default)]
    pub flags: u64,
}

/// A member of a guild.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRecord {
    /// The guild.
    pub guild_id: Snowflake,
    /// The user.
    pub user_id: Snowflake,
    /// Nickname.
    #[serde(default)]
    pub nick: Option<String>,
    /// Role IDs (without @everyone).
    #[serde(default)]
    pub roles: Vec<Snowflake>,
    /// When the user joined.
    pub joined_at: Timestamp,
    /// Server-deafened.
    #[serde(default)]
    pub deaf: bool,
    /// Server-muted.
    #[serde(default)]
    pub mute: bool,
    /// Member flags.
    #[serde(default)]
    pub flags: u32,
    /// Timed out until.
    #[serde(default)]
    pub communication_disabled_until: Option<Timestamp>,
}

impl MemberRecord {
    /// A member with no roles or nickname.
    pub fn new(guild_id: Snowflake, user_id: Snowflake, joined_at: Timestamp) -> Self {
        MemberRecord {
            guild_id,
            user_id,
            nick: None,
            roles: Vec::new(),
            joined_at,
            deaf: false,
            mute: false,
            flags: 0,
            communication_disabled_until: None,
        }
    }
}

/// An invite and its usage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteRecord {
    /// The code.
    pub code: String,
    /// The guild.
    pub guild_id: Snowflake,
    /// The channel.
    pub channel_id: Snowflake,
    /// Who created it.
    pub inviter_id: Option<Snowflake>,
    /// When it was created.
    pub created_at: Timestamp,
    /// Lifetime in seconds; 0 never expires.
    pub max_age: u32,
    /// Maximum uses; 0 is unlimited.
    pub max_uses: u32,
    /// Times used.
    pub uses: u32,
    /// Whether membership is temporary.
    pub temporary: bool,
}

impl InviteRecord {
    /// When it expires, if it does.
    pub fn expires_at(&self) -> Option<Timestamp> {
        (self.max_age > 0).then(|| {
            Timestamp::from_unix_micros(
                self.created_at.unix_micros() + i64::from(self.max_age) * 1_000_000,
            )
        })
    }

    /// Whether it can still be used at `now`.
    pub fn is_usable(&self, now: Timestamp) -> bool {
        self.expires_at().is_none_or(|at| now < at)
            && (self.max_uses == 0 || self.uses < self.max_uses)
    }
}

/// Everything created together with a new guild.
#[derive(Clone, Debug, PartialEq)]
pub struct NewGuild {
    /// The guild (its `roles` field is ignored; roles go in `roles`).
    pub guild: Guild,
    /// Its roles, starting with @everyone (ID = the guild's ID).
    pub roles: Vec<Role>,
    /// Its first channels.
    pub channels: Vec<Channel>,
    /// The owner's membership.
    pub owner: MemberRecord,
}

/// A position change in a channel reorder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelPosition {
    /// The channel.
    pub id: Snowflake,
    /// Its new position.
    pub position: i32,
    /// A new parent category, or `Some(None)` to leave the category.
    pub parent_id: Option<Option<Snowflake>>,
}

/// Users, applications, guilds, channels, roles, members and invites.
///
/// Guilds are returned with an empty `roles` list: roles live in their own
/// rows ([`GuildStore::roles`]).
#[async_trait]
pub trait GuildStore: Send + Sync + 'static {
    // --- users and credentials ---

    /// Creates a user; `Conflict` if the username is taken.
    async fn create_user(&self, user: &UserRecord) -> Result<()>;
    /// A user by ID.
    async fn user(&self, id: Snowflake) -> Result<Option<User>>;
    /// A user and password hash by username (exact match).
    async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>>;
    /// Replaces a user's profile; `Conflict` if the new username is taken.
    async fn update_user(&self, user: &User) -> Result<()>;
    /// Records a token (by its hash) for a user.
    async fn add_token(&self, token_hash: &str, user_id: Snowflake) -> Result<()>;
    /// The user a token hash belongs to.
    async fn user_by_token(&self, token_hash: &str) -> Result<Option<Snowflake>>;
    /// Revokes every token of a user.
    async fn revoke_tokens(&self, user_id: Snowflake) -> Result<()>;

    // --- applications ---

    /// Creates an application together with its bot user.
    async fn create_application(&self, app: &ApplicationRecord, bot: &User) -> Result<()>;
    /// An application by ID.
    async fn application(&self, id: Snowflake) -> Result<Option<ApplicationRecord>>;
    /// The application whose bot user this is.
    async fn application_by_bot(&self, bot_user_id: Snowflake)
    -> Result<Option<ApplicationRecord>>;

    // --- guilds ---

    /// Creates a guild with its roles, channels and owner membership, all or
    /// nothing.
    async fn create_guild(&self, new: &NewGuild) -> Result<()>;
    /// A guild.
    async fn guild(&self, id: Snowflake) -> Result<Option<Guild>>;
    /// Replaces a guild's settings.
    async fn update_guild(&self, guild: &Guild) -> Result<()>;
    /// Deletes a guild with its channels, roles, members and invites.
    async fn delete_guild(&self, id: Snowflake) -> Result<bool>;
    /// IDs of the guilds a user is a member of.
    async fn guild_ids_of_user(&self, user_id: Snowflake) -> Result<Vec<Snowflake>>;

    // --- channels ---

    /// Creates a channel.
    async fn create_channel(&self, channel: &Channel) -> Result<()>;
    /// A channel.
    async fn channel(&self, id: Snowflake) -> Result<Option<Channel>>;
    /// Replaces a channel.
    async fn update_channel(&self, channel: &Channel) -> Result<()>;
    /// Deletes a channel and its invites.
    async fn delete_channel(&self, id: Snowflake) -> Result<bool>;
    /// A guild's channels, by position then ID.
    async fn channels(&self, guild_id: Snowflake) -> Result<Vec<Channel>>;
    /// Moves several channels at once, all or nothing.
    async fn set_channel_positions(
        &self,
        guild_id: Snowflake,
        positions: &[ChannelPosition],
    ) -> Result<()>;

    // --- roles ---

    /// Creates a role.
    async fn create_role(&self, guild_id: Snowflake, role: &Role) -> Result<()>;
    /// A guild's roles, by position then ID.
    async fn roles(&self, guild_id: Snowflake) -> Result<Vec<Role>>;
    /// Replaces a role.
    async fn update_role(&self, guild_id: Snowflake, role: &Role) -> Result<()>;
    /// Deletes a role and takes it from every member.
    async fn delete_role(&self, guild_id: Snowflake, role_id: Snowflake) -> Result<bool>;

    // --- members ---

    /// Adds a member; `Conflict` if already a member.
    async fn add_member(&self, member: &MemberRecord) -> Result<()>;
    /// A member.
    async fn member(&self, guild_id: Snowflake, user_id: Snowflake)
    -> Result<Option<MemberRecord>>;
    /// Replaces a member's nickname, roles, mute/deaf and timeout.
    async fn update_member(&self, member: &MemberRecord) -> Result<()>;
    /// Removes a member; `false` if not a member.
    async fn remove_member(&self, guild_id: Snowflake, user_id: Snowflake) -> Result<bool>;
    /// Members by user ID ascending, after `after`, at most `limit`.
    async fn members(
        &self,
        guild_id: Snowflake,
        after: Option<Snowflake>,
        limit: u32,
    ) -> Result<Vec<MemberRecord>>;
    /// [`GuildStore::members`] with each member's user (`None` for a user
    /// that no longer exists). The default asks per user; SQL backends
    /// join.
    async fn members_with_users(
        &self,
        guild_id: Snowflake,
        after: Option<Snowflake>,
        limit: u32,
    ) -> Result<Vec<(MemberRecord, Option<User>)>> {
        let members = self.members(guild_id, after, limit).await?;
        let mut out = Vec::with_capacity(members.len());
        for m in members {
            let user = self.user(m.user_id).await?;
            out.push((m, user));
        }
        Ok(out)
    }
    /// How many members a guild has.
    async fn member_count(&self, guild_id: Snowflake) -> Result<u64>;

    // --- invites ---

    /// Creates an invite; `Conflict` if the code exists.
    async fn create_invite(&self, invite: &InviteRecord) -> Result<()>;
    /// An invite by code (usable or not).
    async fn invite(&self, code: &str) -> Result<Option<InviteRecord>>;
    /// A guild's invites.
    async fn guild_invites(&self, guild_id: Snowflake) -> Result<Vec<InviteRecord>>;
    /// A channel's invites.
    async fn channel_invites(&self, channel_id: Snowflake) -> Result<Vec<InviteRecord>>;
    /// Uses an invite at `now`: counts one use if it is still usable and
    /// returns it updated; `NotFound` if missing, `Invalid` if expired or
    /// used up. Atomic: concurrent uses never exceed `max_uses`.
    async fn use_invite(&self, code: &str, now: Timestamp) -> Result<InviteRecord>;
    /// Deletes an invite.
    async fn delete_invite(&self, code: &str) -> Result<bool>;
}
