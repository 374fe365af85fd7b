//! Channels and their permission overwrites.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Timestamp, User};
use crate::{Permissions, Snowflake};

/// The kind of a channel, the `type` field of a channel object.
///
/// Types this crate does not name decode to [`ChannelType::Unknown`] and are
/// written back with the same number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChannelType {
    /// 0: a text channel in a guild.
    GuildText,
    /// 1: a direct message between two users.
    Dm,
    /// 2: a voice channel in a guild.
    GuildVoice,
    /// 3: a direct message between several users.
    GroupDm,
    /// 4: a category that holds up to 50 channels.
    GuildCategory,
    /// 5: an announcement channel that users can follow.
    GuildAnnouncement,
    /// 10: a thread in an announcement channel.
    AnnouncementThread,
    /// 11: a public thread.
    PublicThread,
    /// 12: a private thread.
    PrivateThread,
    /// 13: a stage channel.
    GuildStageVoice,
    /// 14: a hub directory channel.
    GuildDirectory,
    /// 15: a forum channel.
    GuildForum,
    /// 16: a media channel.
    GuildMedia,
    /// A type number this crate does not know.
    Unknown(u8),
}

impl ChannelType {
    /// The type's number.
    pub const fn get(self) -> u8 {
        match self {
            ChannelType::GuildText => 0,
            ChannelType::Dm => 1,
            ChannelType::GuildVoice => 2,
            ChannelType::GroupDm => 3,
            ChannelType::GuildCategory => 4,
            ChannelType::GuildAnnouncement => 5,
            ChannelType::AnnouncementThread => 10,
            ChannelType::PublicThread => 11,
            ChannelType::PrivateThread => 12,
            ChannelType::GuildStageVoice => 13,
            ChannelType::GuildDirectory => 14,
            ChannelType::GuildForum => 15,
            ChannelType::GuildMedia => 16,
            ChannelType::Unknown(n) => n,
        }
    }

    /// The type with this number.
    pub const fn from_u8(n: u8) -> Self {
        match n {
            0 => ChannelType::GuildText,
            1 => ChannelType::Dm,
            2 => ChannelType::GuildVoice,
            3 => ChannelType::GroupDm,
            4 => ChannelType::GuildCategory,
            5 => ChannelType::GuildAnnouncement,
            10 => ChannelType::AnnouncementThread,
            11 => ChannelType::PublicThread,
            12 => ChannelType::PrivateThread,
            13 => ChannelType::GuildStageVoice,
            14 => ChannelType::GuildDirectory,
            15 => ChannelType::GuildForum,
            16 => ChannelType::GuildMedia,
            n => ChannelType::Unknown(n),
        }
    }

    /// Whether this is a voice or stage channel (CONNECT governs access).
    pub const fn is_voice(self) -> bool {
        matches!(self, ChannelType::GuildVoice | ChannelType::GuildStageVoice)
    }

    /// Whether messages can be sent in it (text, announcement, thread, DM,
    /// and the text chat of voice channels).
    pub const fn is_text_based(self) -> bool {
        matches!(
            self,
            ChannelType::GuildText
                | ChannelType::Dm
                | ChannelType::GuildVoice
                | ChannelType::GroupDm
                | ChannelType::GuildAnnouncement
                | ChannelType::AnnouncementThread
                | ChannelType::PublicThread
                | ChannelType::PrivateThread
                | ChannelType::GuildStageVoice
        )
    }

    /// Whether the channel belongs to a guild.
    pub const fn is_guild(self) -> bool {
        !matches!(self, ChannelType::Dm | ChannelType::GroupDm)
    }
}

impl Serialize for ChannelType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.get())
    }
}

impl<'de> Deserialize<'de> for ChannelType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        u8::deserialize(deserializer).map(ChannelType::from_u8)
    }
}

/// Whether a permission overwrite applies to a role or a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OverwriteType {
    /// 0: the overwrite's `id` is a role (the guild's ID for @everyone).
    Role,
    /// 1: the overwrite's `id` is a user.
    Member,
}

impl Serialize for OverwriteType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(match self {
            OverwriteType::Role => 0,
            OverwriteType::Member => 1,
        })
    }
}

impl<'de> Deserialize<'de> for OverwriteType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match u8::deserialize(deserializer)? {
            0 => Ok(OverwriteType::Role),
            1 => Ok(OverwriteType::Member),
            n => Err(serde::de::Error::custom(format_args!(
                "overwrite type must be 0 (role) or 1 (member), not {n}"
            ))),
        }
    }
}

/// Permissions explicitly allowed and denied for one role or member in one
/// channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PermissionOverwrite {
    /// The role or user ID.
    pub id: Snowflake,
    /// Whether `id` is a role or a member.
    #[serde(rename = "type")]
    pub kind: OverwriteType,
    /// Permissions granted.
    #[serde(default)]
    pub allow: Permissions,
    /// Permissions taken away.
    #[serde(default)]
    pub deny: Permissions,
}

/// A guild channel, DM or thread.
///
/// Only `id` and `type` are always present; what else appears depends on the
/// type, so every other field is optional and left out when `None`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// The channel's ID.
    pub id: Snowflake,
    /// The channel's type.
    #[serde(rename = "type")]
    pub kind: ChannelType,
    /// The guild it belongs to (absent in some gateway payloads where implied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Snowflake>,
    /// Sorting position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<i32>,
    /// Explicit permission overwrites for roles and members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_overwrites: Option<Vec<PermissionOverwrite>>,
    /// The channel's name (1-100 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The channel's topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Whether the channel is age-restricted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nsfw: Option<bool>,
    /// ID of the last message sent (may not point to an existing message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message_id: Option<Snowflake>,
    /// Bitrate of a voice channel in bits per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitrate: Option<u32>,
    /// User limit of a voice channel (0 for none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_limit: Option<u32>,
    /// Slow mode: seconds a user must wait between messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_user: Option<u32>,
    /// The recipients of a DM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipients: Option<Vec<User>>,
    /// Icon hash of a group DM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    /// Creator of a group DM or thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<Snowflake>,
    /// Application that created a group DM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<Snowflake>,
    /// The parent category (or the parent channel of a thread).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<Snowflake>,
    /// When the most recent message was pinned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_pin_timestamp: Option<Timestamp>,
    /// Voice region ID; `null` means automatic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtc_region: Option<String>,
    /// Camera video quality mode (1 auto, 2 full).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_quality_mode: Option<u8>,
    /// Channel flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<u32>,
    /// Minutes of inactivity after which new threads are archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_auto_archive_duration: Option<u32>,
}

impl Channel {
    /// A guild channel of `kind` named `name` at `position`, with no
    /// overwrites and nothing else set.
    pub fn guild(
        id: Snowflake,
        guild_id: Snowflake,
        kind: ChannelType,
        name: impl Into<String>,
        position: i32,
    ) -> Self {
        Channel {
            id,
            kind,
            guild_id: Some(guild_id),
            position: Some(position),
            permission_overwrites: Some(Vec::new()),
            name: Some(name.into()),
            topic: None,
            nsfw: Some(false),
            last_message_id: None,
            bitrate: kind.is_voice().then_some(64_000),
            user_limit: kind.is_voice().then_some(0),
            rate_limit_per_user: (kind.is_text_based() && !kind.is_voice()).then_some(0),
            recipients: None,
            icon: None,
            owner_id: None,
            application_id: None,
            parent_id: None,
            last_pin_timestamp: None,
            rtc_region: None,
            video_quality_mode: None,
            flags: Some(0),
            default_auto_archive_duration: None,
        }
    }

    /// The channel's overwrites, empty when none are set.
    pub fn overwrites(&self) -> &[PermissionOverwrite] {
        self.permission_overwrites.as_deref().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_type_numbers_round_trip_including_unknown() {
        for n in 0..=40u8 {
            let t = ChannelType::from_u8(n);
            assert_eq!(t.get(), n);
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, n.to_string());
            assert_eq!(serde_json::from_str::<ChannelType>(&json).unwrap(), t);
        }
        assert_eq!(ChannelType::from_u8(2), ChannelType::GuildVoice);
        assert_eq!(ChannelType::from_u8(99), ChannelType::Unknown(99));
    }

    #[test]
    fn overwrite_type_rejects_other_numbers() {
        let err = serde_json::from_str::<PermissionOverwrite>(
            r#"{"id":"1","type":2,"allow":"0","deny":"0"}"#,
        );
        assert!(err.is_err());
    }
}
