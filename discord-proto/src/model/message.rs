//! Messages and what they carry: attachments, embeds, reactions.

use serde::{Deserialize, Serialize};

use super::{Emoji, Member, Timestamp, User};
use crate::Snowflake;
use crate::serde_util::is_false;

/// The `type` of a message. A newtype over the number so that types this
/// crate does not name still round-trip; the common ones are constants.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageType(pub u8);

impl MessageType {
    /// 0: a normal message.
    pub const DEFAULT: MessageType = MessageType(0);
    /// 6: "X pinned a message".
    pub const CHANNEL_PINNED_MESSAGE: MessageType = MessageType(6);
    /// 7: "X joined the server".
    pub const USER_JOIN: MessageType = MessageType(7);
    /// 19: a reply to another message.
    pub const REPLY: MessageType = MessageType(19);
    /// 20: a response to a slash command.
    pub const CHAT_INPUT_COMMAND: MessageType = MessageType(20);

    /// Whether users may delete messages of this type (Discord documents
    /// some system types as undeletable; we allow deleting the common ones).
    pub const fn is_deletable(self) -> bool {
        !matches!(self.0, 1..=5 | 21)
    }
}

/// The client's `nonce` on a new message: an integer or a string of at most
/// 25 characters, echoed back so the sender can match the result.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Nonce {
    /// A numeric nonce.
    Int(i64),
    /// A string nonce.
    Str(String),
}

impl Nonce {
    /// The nonce as a string, for storage and comparison: `1` and `"1"` are
    /// the same nonce.
    pub fn as_key(&self) -> String {
        match self {
            Nonce::Int(n) => n.to_string(),
            Nonce::Str(s) => s.clone(),
        }
    }
}

/// A message in a channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// The message's ID.
    pub id: Snowflake,
    /// The channel it was sent in.
    pub channel_id: Snowflake,
    /// The guild, in gateway events for guild messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Snowflake>,
    /// The author.
    pub author: User,
    /// The author's member record, in gateway events for guild messages
    /// (without its `user`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<Member>,
    /// The text (up to 2000 characters); empty for a bot without the
    /// MESSAGE_CONTENT intent unless the message mentions it.
    #[serde(default)]
    pub content: String,
    /// When it was sent.
    pub timestamp: Timestamp,
    /// When it was last edited, `null` if never.
    #[serde(default)]
    pub edited_timestamp: Option<Timestamp>,
    /// Whether it is a text-to-speech message.
    #[serde(default)]
    pub tts: bool,
    /// Whether it mentions @everyone.
    #[serde(default)]
    pub mention_everyone: bool,
    /// Users it mentions.
    #[serde(default)]
    pub mentions: Vec<User>,
    /// Roles it mentions.
    #[serde(default)]
    pub mention_roles: Vec<Snowflake>,
    /// Attached files.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// Embedded content.
    #[serde(default)]
    pub embeds: Vec<Embed>,
    /// Reactions, left out when there are none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reactions: Option<Vec<Reaction>>,
    /// The sender's nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<Nonce>,
    /// Whether it is pinned.
    #[serde(default)]
    pub pinned: bool,
    /// The webhook that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_id: Option<Snowflake>,
    /// The message's type.
    #[serde(rename = "type", default)]
    pub kind: MessageType,
    /// The application that sent it (interactions and webhooks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<Snowflake>,
    /// Message flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<u64>,
    /// What this message replies to or forwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_reference: Option<MessageReference>,
    /// The message replied to (`null` if it was deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referenced_message: Option<Box<Message>>,
}

impl Message {
    /// A plain message with `content` from `author`, no mentions, attachments
    /// or embeds.
    pub fn new(
        id: Snowflake,
        channel_id: Snowflake,
        author: User,
        content: impl Into<String>,
        timestamp: Timestamp,
    ) -> Self {
        Message {
            id,
            channel_id,
            guild_id: None,
            author,
            member: None,
            content: content.into(),
            timestamp,
            edited_timestamp: None,
            tts: false,
            mention_everyone: false,
            mentions: Vec::new(),
            mention_roles: Vec::new(),
            attachments: Vec::new(),
            embeds: Vec::new(),
            reactions: None,
            nonce: None,
            pinned: false,
            webhook_id: None,
            kind: MessageType::DEFAULT,
            application_id: None,
            flags: Some(0),
            message_reference: None,
            referenced_message: None,
        }
    }
}

/// A reference to another message: a reply or a forward.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageReference {
    /// 0 for a reply (default), 1 for a forward.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<u8>,
    /// The referenced message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<Snowflake>,
    /// Its channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<Snowflake>,
    /// Its guild.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Snowflake>,
    /// When sending: fail if the referenced message does not exist (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_if_not_exists: Option<bool>,
}

/// A file attached to a message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    /// The attachment's ID.
    pub id: Snowflake,
    /// The file's name.
    pub filename: String,
    /// Title of the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Description (alt text), up to 1024 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The media type, such as `image/png`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// Where the file is served.
    pub url: String,
    /// A proxied URL of the file.
    pub proxy_url: String,
    /// Height of an image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Width of an image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Whether the attachment is ephemeral.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ephemeral: bool,
    /// Duration of a voice message in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<f64>,
    /// Base64 waveform of a voice message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waveform: Option<String>,
    /// Attachment flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<u64>,
}

/// Rich embedded content in a message.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Embed {
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Type (`rich` for webhook and bot embeds).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// URL of the title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Timestamp shown in the footer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    /// Colour as `0xRRGGBB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<u32>,
    /// Footer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<EmbedFooter>,
    /// Image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<EmbedMedia>,
    /// Thumbnail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<EmbedMedia>,
    /// Video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<EmbedMedia>,
    /// Provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<EmbedProvider>,
    /// Author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<EmbedAuthor>,
    /// Fields (up to 25).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<EmbedField>,
}

/// An embed's footer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbedFooter {
    /// Footer text.
    pub text: String,
    /// Footer icon URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_url: Option<String>,
    /// Proxied footer icon URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_icon_url: Option<String>,
}

/// An embed's image, thumbnail or video.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbedMedia {
    /// Source URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Proxied URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// Height in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Width in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
}

/// An embed's provider.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbedProvider {
    /// Provider name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Provider URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// An embed's author.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbedAuthor {
    /// Author name.
    pub name: String,
    /// Author URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Author icon URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_url: Option<String>,
    /// Proxied author icon URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_icon_url: Option<String>,
}

/// One field of an embed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbedField {
    /// Field name.
    pub name: String,
    /// Field value.
    pub value: String,
    /// Whether it is shown inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<bool>,
}

/// A reaction on a message: one emoji and how many users added it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    /// Total count, normal and super reactions.
    pub count: u32,
    /// The count split by kind.
    #[serde(default)]
    pub count_details: ReactionCountDetails,
    /// Whether the current user reacted with this emoji.
    #[serde(default)]
    pub me: bool,
    /// Whether the current user super-reacted with this emoji.
    #[serde(default)]
    pub me_burst: bool,
    /// The emoji (partial: `id`, `name`, `animated`).
    pub emoji: Emoji,
    /// Colours of super reactions.
    #[serde(default)]
    pub burst_colors: Vec<String>,
}

/// A reaction's count by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionCountDetails {
    /// Super reactions.
    #[serde(default)]
    pub burst: u32,
    /// Normal reactions.
    #[serde(default)]
    pub normal: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_is_an_integer_or_a_string() {
        assert_eq!(serde_json::from_str::<Nonce>("42").unwrap(), Nonce::Int(42));
        assert_eq!(
            serde_json::from_str::<Nonce>("\"abc\"").unwrap(),
            Nonce::Str("abc".into())
        );
        assert_eq!(Nonce::Int(7).as_key(), Nonce::Str("7".into()).as_key());
        assert!(serde_json::from_str::<Nonce>("[1]").is_err());
    }

    #[test]
    fn required_fields_are_always_written() {
        let m = Message::new(
            Snowflake::new(3),
            Snowflake::new(2),
            User::new(Snowflake::new(1), "alice"),
            "hi",
            Timestamp::from_unix_millis(1_700_000_000_000),
        );
        let v = serde_json::to_value(&m).unwrap();
        for key in [
            "id",
            "channel_id",
            "author",
            "content",
            "timestamp",
            "edited_timestamp",
            "tts",
            "mention_everyone",
            "mentions",
            "mention_roles",
            "attachments",
            "embeds",
            "pinned",
            "type",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert!(v["edited_timestamp"].is_null());
        assert!(v.get("reactions").is_none());
        let back: Message = serde_json::from_value(v).unwrap();
        assert_eq!(back, m);
    }
}
