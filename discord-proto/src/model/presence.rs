//! Presence: online status and activities.

use serde::{Deserialize, Serialize};

/// A user's online status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Online.
    Online,
    /// Do not disturb.
    Dnd,
    /// Away from keyboard.
    Idle,
    /// Shown as offline while connected (only valid when setting a status).
    Invisible,
    /// Offline.
    #[default]
    Offline,
}

impl Status {
    /// The status others see: invisible users appear offline.
    pub const fn visible(self) -> Status {
        match self {
            Status::Invisible => Status::Offline,
            s => s,
        }
    }
}

/// An activity: playing, streaming, listening, watching, a custom status or
/// competing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// The activity's name.
    pub name: String,
    /// 0 playing, 1 streaming, 2 listening, 3 watching, 4 custom, 5 competing.
    #[serde(rename = "type")]
    pub kind: u8,
    /// Stream URL (type 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// When the activity was added, in Unix milliseconds (set by the server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<u64>,
    /// What the user is doing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// The user's current party status, or the text of a custom status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Fields this crate does not type (timestamps, party, assets, buttons,
    /// ...), kept so that an activity passes through unchanged.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Activity {
    /// An activity of `kind` named `name`, nothing else set.
    pub fn new(name: impl Into<String>, kind: u8) -> Self {
        Activity {
            name: name.into(),
            kind,
            url: None,
            created_at: None,
            details: None,
            state: None,
            extra: serde_json::Map::new(),
        }
    }
}

/// Per-platform statuses of a user with sessions on several clients.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientStatus {
    /// Desktop application status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desktop: Option<Status>,
    /// Mobile application status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile: Option<Status>,
    /// Web browser or bot status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<Status>,
}
