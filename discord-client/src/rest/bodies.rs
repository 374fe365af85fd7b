//! Request bodies of the typed routes. Fields left `None` are not sent; a
//! nullable field is `Option<Option<T>>`, where `Some(None)` sends `null`
//! (clears it).

use discord_proto::model::{ChannelType, OverwriteType, PermissionOverwrite, Timestamp};
use discord_proto::{Permissions, Snowflake};
use serde::{Deserialize, Serialize};

/// `POST /guilds`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CreateGuild {
    /// 2-100 characters.
    pub name: String,
    /// A data URI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
}

/// `PATCH /guilds/{id}`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ModifyGuild {
    /// New name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New description (`Some(None)` clears it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Option<String>>,
    /// The system messages channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_channel_id: Option<Option<Snowflake>>,
    /// The AFK voice channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub afk_channel_id: Option<Option<Snowflake>>,
    /// Transfer ownership (owner only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<Snowflake>,
}

/// `POST /guilds/{id}/channels`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CreateChannel {
    /// 1-100 characters.
    pub name: String,
    /// The type (text when `None`).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<ChannelType>,
    /// Topic (text channels).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Bitrate (voice channels).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bitrate: Option<u32>,
    /// Most users (voice channels; 0 for no limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_limit: Option<u32>,
    /// Slowmode seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_user: Option<u32>,
    /// Sorting position.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<i32>,
    /// Permission overwrites.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permission_overwrites: Option<Vec<PermissionOverwrite>>,
    /// The category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<Snowflake>,
    /// Age-restricted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nsfw: Option<bool>,
}

impl CreateChannel {
    /// A channel named `name` of type `kind`.
    pub fn new(name: impl Into<String>, kind: ChannelType) -> CreateChannel {
        CreateChannel {
            name: name.into(),
            kind: Some(kind),
            ..CreateChannel::default()
        }
    }
}

/// `PATCH /channels/{id}`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ModifyChannel {
    /// New name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New topic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<Option<String>>,
    /// Sorting position.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<i32>,
    /// Age-restricted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nsfw: Option<bool>,
    /// Slowmode seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_user: Option<u32>,
    /// Bitrate (voice).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bitrate: Option<u32>,
    /// Most users (voice).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_limit: Option<u32>,
    /// Replaces every overwrite.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permission_overwrites: Option<Vec<PermissionOverwrite>>,
    /// The category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<Option<Snowflake>>,
}

/// One entry of `PATCH /guilds/{id}/channels`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ChannelPosition {
    /// The channel.
    pub id: Snowflake,
    /// Its new position.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<i32>,
    /// Its new category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<Option<Snowflake>>,
}

/// `POST /guilds/{id}/roles` and `PATCH /guilds/{id}/roles/{id}`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RoleFields {
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Permissions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Permissions>,
    /// RGB color.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<u32>,
    /// Shown separately in the member list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hoist: Option<bool>,
    /// Anyone may mention it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mentionable: Option<bool>,
}

/// One entry of `PATCH /guilds/{id}/roles`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct RolePosition {
    /// The role.
    pub id: Snowflake,
    /// Its new position.
    pub position: i32,
}

/// `PATCH /guilds/{id}/members/{id}`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ModifyMember {
    /// Nickname (`Some(None)` clears it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nick: Option<Option<String>>,
    /// Every role the member should have.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<Snowflake>>,
    /// Server mute in voice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mute: Option<bool>,
    /// Server deafen in voice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deaf: Option<bool>,
    /// Move to this voice channel (`Some(None)` disconnects).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<Option<Snowflake>>,
    /// Time out until (`Some(None)` ends a timeout).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub communication_disabled_until: Option<Option<Timestamp>>,
}

/// `POST /channels/{id}/invites`.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct CreateInvite {
    /// Seconds until it expires (0: never).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u32>,
    /// Uses allowed (0: unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u32>,
    /// Membership ends when the member goes offline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temporary: Option<bool>,
    /// Always a new code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unique: Option<bool>,
}

/// `PATCH /users/@me`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ModifyCurrentUser {
    /// New username.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// New display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global_name: Option<Option<String>>,
}

/// `PUT /channels/{id}/permissions/{id}`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct SetOverwrite {
    /// Whether the overwrite is for a role or a member.
    #[serde(rename = "type")]
    pub kind: OverwriteType,
    /// Permissions granted.
    pub allow: Permissions,
    /// Permissions taken away.
    pub deny: Permissions,
}

/// One entry of `GET /users/@me/guilds`: a guild as the current user's
/// guild list shows it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct CurrentUserGuild {
    /// The guild.
    pub id: Snowflake,
    /// Its name.
    pub name: String,
    /// Its icon hash.
    #[serde(default)]
    pub icon: Option<String>,
    /// Whether the current user owns it.
    #[serde(default)]
    pub owner: bool,
    /// The current user's guild-wide permissions.
    #[serde(default)]
    pub permissions: Permissions,
    /// Guild features.
    #[serde(default)]
    pub features: Vec<String>,
}

/// The answer to `POST /auth/register` and `POST /auth/login` (reference
/// server accounts; Discord itself has no such routes).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct TokenReply {
    /// The user token (send it bare in `Authorization`).
    pub token: String,
    /// The account.
    pub user: discord_proto::model::User,
}

/// A bot application.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Application {
    /// The application's ID (also its bot user's ID).
    pub id: Snowflake,
    /// Its name.
    pub name: String,
    /// Its description.
    #[serde(default)]
    pub description: Option<String>,
    /// Application flags (privileged intents enabled and so on).
    #[serde(default)]
    pub flags: u64,
    /// The owner.
    #[serde(default)]
    pub owner: Option<discord_proto::model::User>,
    /// The bot user.
    #[serde(default)]
    pub bot: Option<discord_proto::model::User>,
}
