//! Users: people and bots.

use serde::{Deserialize, Serialize};

use crate::Snowflake;
use crate::serde_util::is_false;

/// A Discord user (a person or a bot).
///
/// `id`, `username`, `discriminator`, `global_name` and `avatar` are always
/// present (the last two may be `null`); the rest are written only when set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The user's ID.
    pub id: Snowflake,
    /// The user's username (not unique across the platform).
    pub username: String,
    /// The legacy four-digit tag; `"0"` for users on the new username system.
    pub discriminator: String,
    /// The display name, if set.
    #[serde(default)]
    pub global_name: Option<String>,
    /// The avatar image hash, if the user has one.
    #[serde(default)]
    pub avatar: Option<String>,
    /// Whether the user belongs to an application (a bot).
    #[serde(default, skip_serializing_if = "is_false")]
    pub bot: bool,
    /// Whether the user is an official system user.
    #[serde(default, skip_serializing_if = "is_false")]
    pub system: bool,
    /// Whether the user has two-factor authentication enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_enabled: Option<bool>,
    /// The banner image hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banner: Option<String>,
    /// The banner colour as an integer `0xRRGGBB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accent_color: Option<u32>,
    /// The user's chosen locale, such as `en-US`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Whether the account's email is verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    /// The account's email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Account flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<u64>,
    /// Nitro subscription type (0 none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub premium_type: Option<u8>,
    /// Public account flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_flags: Option<u64>,
}

impl User {
    /// A user with the given ID and username and nothing else set
    /// (`discriminator` `"0"`, no avatar, not a bot).
    pub fn new(id: Snowflake, username: impl Into<String>) -> Self {
        User {
            id,
            username: username.into(),
            discriminator: "0".to_owned(),
            global_name: None,
            avatar: None,
            bot: false,
            system: false,
            mfa_enabled: None,
            banner: None,
            accent_color: None,
            locale: None,
            verified: None,
            email: None,
            flags: None,
            premium_type: None,
            public_flags: None,
        }
    }
}
