//! Invites: codes that let users join a guild.

use serde::{Deserialize, Serialize};

use super::{Channel, Guild, Timestamp, User};
use crate::serde_util::is_false;

/// An invite, optionally with its metadata (uses, limits, creation time),
/// which Discord includes when listing a guild's or channel's invites.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Invite {
    /// 0 guild, 1 group DM, 2 friend.
    #[serde(rename = "type", default)]
    pub kind: u8,
    /// The code that goes in `https://discord.gg/<code>`.
    pub code: String,
    /// The guild it invites to (partial).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild: Option<Box<Guild>>,
    /// The channel it invites to (partial).
    #[serde(default)]
    pub channel: Option<Channel>,
    /// Who created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inviter: Option<User>,
    /// Approximate member count (with `with_counts=true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximate_member_count: Option<u32>,
    /// Approximate online member count (with `with_counts=true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximate_presence_count: Option<u32>,
    /// When it expires, `null` if never.
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    /// Metadata: how many times it was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uses: Option<u32>,
    /// Metadata: maximum uses (0 for unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u32>,
    /// Metadata: lifetime in seconds (0 for never expiring).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u32>,
    /// Metadata: whether it grants temporary membership.
    #[serde(default, skip_serializing_if = "is_false")]
    pub temporary: bool,
    /// Metadata: when it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
}
