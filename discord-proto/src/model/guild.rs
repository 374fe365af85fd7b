//! Guilds (servers), their roles, emojis and members.

use serde::{Deserialize, Serialize};

use super::{Timestamp, User};
use crate::serde_util::{is_false, null_flag};
use crate::{Permissions, Snowflake};

/// A guild, as returned by `GET /guilds/{id}` and carried in guild events.
///
/// Fields that Discord always sends are plain fields (nullable ones are
/// `Option`s written as `null`); fields Discord sends only sometimes are
/// `Option`s left out when `None`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Guild {
    /// The guild's ID.
    pub id: Snowflake,
    /// The guild's name (2-100 characters).
    pub name: String,
    /// Icon image hash.
    #[serde(default)]
    pub icon: Option<String>,
    /// Splash image hash.
    #[serde(default)]
    pub splash: Option<String>,
    /// Discovery splash image hash.
    #[serde(default)]
    pub discovery_splash: Option<String>,
    /// Whether the requesting user owns the guild (only in `GET /users/@me/guilds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<bool>,
    /// The owner's user ID.
    pub owner_id: Snowflake,
    /// The requesting user's permissions in the guild (only in `GET /users/@me/guilds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Permissions>,
    /// ID of the AFK voice channel.
    #[serde(default)]
    pub afk_channel_id: Option<Snowflake>,
    /// AFK timeout in seconds.
    #[serde(default)]
    pub afk_timeout: u32,
    /// Whether the server widget is enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub widget_enabled: Option<bool>,
    /// The channel the widget invites to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub widget_channel_id: Option<Snowflake>,
    /// Verification level (0 none ... 4 very high).
    #[serde(default)]
    pub verification_level: u8,
    /// Default notification level (0 all messages, 1 only mentions).
    #[serde(default)]
    pub default_message_notifications: u8,
    /// Explicit content filter level.
    #[serde(default)]
    pub explicit_content_filter: u8,
    /// The guild's roles; the role whose ID equals the guild's is @everyone.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Custom emojis.
    #[serde(default)]
    pub emojis: Vec<Emoji>,
    /// Custom stickers, as raw sticker objects (always written: libraries
    /// such as serenity require the field).
    #[serde(default)]
    pub stickers: Vec<serde_json::Value>,
    /// Enabled guild features, such as `COMMUNITY`.
    #[serde(default)]
    pub features: Vec<String>,
    /// Required MFA level for moderation (0 none, 1 elevated).
    #[serde(default)]
    pub mfa_level: u8,
    /// The application that created the guild, if a bot did.
    #[serde(default)]
    pub application_id: Option<Snowflake>,
    /// Where system messages (joins, boosts) are posted.
    #[serde(default)]
    pub system_channel_id: Option<Snowflake>,
    /// System channel flags.
    #[serde(default)]
    pub system_channel_flags: u32,
    /// The rules channel of a community guild.
    #[serde(default)]
    pub rules_channel_id: Option<Snowflake>,
    /// Maximum presences (`null` except for the largest guilds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_presences: Option<u32>,
    /// Maximum members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_members: Option<u32>,
    /// Vanity invite code.
    #[serde(default)]
    pub vanity_url_code: Option<String>,
    /// Description of a community guild.
    #[serde(default)]
    pub description: Option<String>,
    /// Banner image hash.
    #[serde(default)]
    pub banner: Option<String>,
    /// Boost tier (0-3).
    #[serde(default)]
    pub premium_tier: u8,
    /// Number of boosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub premium_subscription_count: Option<u32>,
    /// Preferred locale of a community guild; `en-US` by default.
    #[serde(default = "default_locale")]
    pub preferred_locale: String,
    /// Where Discord sends notices to community guild moderators.
    #[serde(default)]
    pub public_updates_channel_id: Option<Snowflake>,
    /// Maximum users in a video channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_video_channel_users: Option<u32>,
    /// Approximate member count (with `with_counts=true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximate_member_count: Option<u32>,
    /// Approximate online member count (with `with_counts=true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximate_presence_count: Option<u32>,
    /// NSFW level (0 default ... 3 age restricted).
    #[serde(default)]
    pub nsfw_level: u8,
    /// Whether the boost progress bar is shown.
    #[serde(default)]
    pub premium_progress_bar_enabled: bool,
    /// Where Discord sends safety alerts.
    #[serde(default)]
    pub safety_alerts_channel_id: Option<Snowflake>,
}

fn default_locale() -> String {
    "en-US".to_owned()
}

impl Guild {
    /// A guild with the given ID, name and owner, default settings and no
    /// roles, emojis or features.
    pub fn new(id: Snowflake, name: impl Into<String>, owner_id: Snowflake) -> Self {
        Guild {
            id,
            name: name.into(),
            icon: None,
            splash: None,
            discovery_splash: None,
            owner: None,
            owner_id,
            permissions: None,
            afk_channel_id: None,
            afk_timeout: 300,
            widget_enabled: None,
            widget_channel_id: None,
            verification_level: 0,
            default_message_notifications: 0,
            explicit_content_filter: 0,
            roles: Vec::new(),
            emojis: Vec::new(),
            stickers: Vec::new(),
            features: Vec::new(),
            mfa_level: 0,
            application_id: None,
            system_channel_id: None,
            system_channel_flags: 0,
            rules_channel_id: None,
            max_presences: None,
            max_members: None,
            vanity_url_code: None,
            description: None,
            banner: None,
            premium_tier: 0,
            premium_subscription_count: None,
            preferred_locale: default_locale(),
            public_updates_channel_id: None,
            max_video_channel_users: None,
            approximate_member_count: None,
            approximate_presence_count: None,
            nsfw_level: 0,
            premium_progress_bar_enabled: false,
            safety_alerts_channel_id: None,
        }
    }
}

/// A guild the client cannot see yet or that went down: `{id, unavailable}`,
/// as in READY's `guilds` and GUILD_DELETE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnavailableGuild {
    /// The guild's ID.
    pub id: Snowflake,
    /// `true` while the guild is unavailable; absent (false) in a GUILD_DELETE
    /// that means the user left or was removed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unavailable: bool,
}

/// A role: a named set of permissions given to members.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// The role's ID (the guild's ID for @everyone).
    pub id: Snowflake,
    /// The role's name.
    pub name: String,
    /// Colour as `0xRRGGBB` (0 for none); superseded by `colors` but still sent.
    #[serde(default)]
    pub color: u32,
    /// The role's colours.
    #[serde(default)]
    pub colors: RoleColors,
    /// Whether members are shown separately in the member list.
    #[serde(default)]
    pub hoist: bool,
    /// Role icon hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    /// Role unicode emoji.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unicode_emoji: Option<String>,
    /// Position in the role hierarchy (@everyone is 0).
    #[serde(default)]
    pub position: i32,
    /// The role's permissions (a string of the integer in JSON).
    pub permissions: Permissions,
    /// Whether an integration manages the role.
    #[serde(default)]
    pub managed: bool,
    /// Whether the role can be mentioned.
    #[serde(default)]
    pub mentionable: bool,
    /// Tags of managed and special roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<RoleTags>,
    /// Role flags.
    #[serde(default)]
    pub flags: u32,
}

impl Role {
    /// A plain role: no colour, not hoisted, not managed, not mentionable.
    pub fn new(id: Snowflake, name: impl Into<String>, permissions: Permissions) -> Self {
        Role {
            id,
            name: name.into(),
            color: 0,
            colors: RoleColors::default(),
            hoist: false,
            icon: None,
            unicode_emoji: None,
            position: 0,
            permissions,
            managed: false,
            mentionable: false,
            tags: None,
            flags: 0,
        }
    }
}

/// A role's colours: a primary colour and, for gradients, up to two more.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleColors {
    /// Primary colour `0xRRGGBB`.
    #[serde(default)]
    pub primary_color: u32,
    /// Secondary colour for a gradient.
    #[serde(default)]
    pub secondary_color: Option<u32>,
    /// Tertiary colour for a holographic style.
    #[serde(default)]
    pub tertiary_color: Option<u32>,
}

/// Tags on special roles. Discord writes the boolean tags as a key with a
/// `null` value when true and leaves them out when false.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleTags {
    /// The bot this role belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_id: Option<Snowflake>,
    /// The integration this role belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_id: Option<Snowflake>,
    /// Whether this is the guild's booster role.
    #[serde(default, with = "null_flag", skip_serializing_if = "is_false")]
    pub premium_subscriber: bool,
    /// The role's subscription SKU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_listing_id: Option<Snowflake>,
    /// Whether the role can be purchased.
    #[serde(default, with = "null_flag", skip_serializing_if = "is_false")]
    pub available_for_purchase: bool,
    /// Whether the role is a linked role.
    #[serde(default, with = "null_flag", skip_serializing_if = "is_false")]
    pub guild_connections: bool,
}

/// A custom or Unicode emoji.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Emoji {
    /// The custom emoji's ID; `null` for a Unicode emoji.
    #[serde(default)]
    pub id: Option<Snowflake>,
    /// The emoji's name, or the Unicode character(s) for a standard emoji.
    /// `null` only for a deleted custom emoji in a reaction.
    #[serde(default)]
    pub name: Option<String>,
    /// Roles allowed to use this emoji.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<Snowflake>>,
    /// The user who created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    /// Whether it must be wrapped in colons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_colons: Option<bool>,
    /// Whether an integration manages it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<bool>,
    /// Whether it is animated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub animated: Option<bool>,
    /// Whether it can be used (false when boosts are lost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available: Option<bool>,
}

impl Emoji {
    /// A standard Unicode emoji such as `"👍"`.
    pub fn unicode(name: impl Into<String>) -> Self {
        Emoji {
            id: None,
            name: Some(name.into()),
            roles: None,
            user: None,
            require_colons: None,
            managed: None,
            animated: None,
            available: None,
        }
    }
}

/// A user's membership in a guild.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The user; left out in MESSAGE_CREATE's `member`, where `author` carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    /// The member's nickname in this guild.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nick: Option<String>,
    /// The member's guild avatar hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// The member's guild banner hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banner: Option<String>,
    /// IDs of the member's roles (never including @everyone).
    #[serde(default)]
    pub roles: Vec<Snowflake>,
    /// When the user joined the guild (`null` for guest members of voice channels).
    #[serde(default)]
    pub joined_at: Option<Timestamp>,
    /// When the user started boosting the guild.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub premium_since: Option<Timestamp>,
    /// Whether the member is server-deafened in voice.
    #[serde(default)]
    pub deaf: bool,
    /// Whether the member is server-muted in voice.
    #[serde(default)]
    pub mute: bool,
    /// Member flags.
    #[serde(default)]
    pub flags: u32,
    /// Whether the member has not yet passed membership screening.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<bool>,
    /// The member's permissions in the channel (only in interaction payloads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Permissions>,
    /// Until when the member is timed out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub communication_disabled_until: Option<Timestamp>,
}

impl Member {
    /// A member record for `user` that joined at `joined_at`, with no roles.
    pub fn new(user: User, joined_at: Timestamp) -> Self {
        Member {
            user: Some(user),
            nick: None,
            avatar: None,
            banner: None,
            roles: Vec::new(),
            joined_at: Some(joined_at),
            premium_since: None,
            deaf: false,
            mute: false,
            flags: 0,
            pending: None,
            permissions: None,
            communication_disabled_until: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_tags_null_fields_mean_true() {
        let tags: RoleTags =
            serde_json::from_str(r#"{"bot_id":"1","premium_subscriber":null}"#).unwrap();
        assert_eq!(tags.bot_id, Some(Snowflake::new(1)));
        assert!(tags.premium_subscriber);
        assert!(!tags.guild_connections);
        let back = serde_json::to_value(&tags).unwrap();
        assert_eq!(
            back,
            serde_json::json!({"bot_id":"1","premium_subscriber":null})
        );
    }

    #[test]
    fn unavailable_guild_shapes() {
        let g: UnavailableGuild =
            serde_json::from_str(r#"{"id":"41771983423143937","unavailable":true}"#).unwrap();
        assert!(g.unavailable);
        let left: UnavailableGuild = serde_json::from_str(r#"{"id":"1"}"#).unwrap();
        assert!(!left.unavailable);
        assert_eq!(serde_json::to_string(&left).unwrap(), r#"{"id":"1"}"#);
    }
}
