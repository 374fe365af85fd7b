//! The message store: channel history partitioned by time bucket.

use std::collections::HashMap;

use async_trait::async_trait;
use discord_proto::Snowflake;
use discord_proto::model::{Attachment, Embed, MessageReference, MessageType, Timestamp};
use serde::{Deserialize, Serialize};

use crate::Result;

/// A stored message: everything about it except the author's user object,
/// which callers join from the guild store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// The message's ID (also its creation time).
    pub id: Snowflake,
    /// Its channel.
    pub channel_id: Snowflake,
    /// Its guild, for guild channels.
    pub guild_id: Option<Snowflake>,
    /// Its author.
    pub author_id: Snowflake,
    /// Its text.
    pub content: String,
    /// The sender's nonce (as a string; see [`discord_proto::model::Nonce::as_key`]).
    pub nonce: Option<String>,
    /// When it was last edited.
    pub edited_at: Option<Timestamp>,
    /// Everything else Discord shows about a message.
    #[serde(flatten)]
    pub body: MessageBody,
}

/// The parts of a message stored as one document (defaults are left out of
/// the stored form to keep rows small).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageBody {
    /// Message type.
    #[serde(default, skip_serializing_if = "is_default")]
    pub kind: MessageType,
    /// Message flags.
    #[serde(default, skip_serializing_if = "is_default")]
    pub flags: u64,
    /// Text-to-speech.
    #[serde(default, skip_serializing_if = "is_default")]
    pub tts: bool,
    /// Pinned.
    #[serde(default, skip_serializing_if = "is_default")]
    pub pinned: bool,
    /// Mentions @everyone.
    #[serde(default, skip_serializing_if = "is_default")]
    pub mention_everyone: bool,
    /// Mentioned users.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<Snowflake>,
    /// Mentioned roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mention_roles: Vec<Snowflake>,
    /// Attachments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// Embeds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub embeds: Vec<Embed>,
    /// Reply or forward reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_reference: Option<MessageReference>,
    /// Sending webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_id: Option<Snowflake>,
    /// Sending application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<Snowflake>,
}

impl MessageRecord {
    /// A plain message with `content` and nothing else.
    pub fn new(
        id: Snowflake,
        channel_id: Snowflake,
        author_id: Snowflake,
        content: impl Into<String>,
    ) -> Self {
        MessageRecord {
            id,
            channel_id,
            guild_id: None,
            author_id,
            content: content.into(),
            nonce: None,
            edited_at: None,
            body: MessageBody::default(),
        }
    }
}

/// Where a history page starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryAnchor {
    /// The newest messages.
    Latest,
    /// Messages older than this ID.
    Before(Snowflake),
    /// Messages newer than this ID (the ones closest to it).
    After(Snowflake),
    /// Messages around this ID: the message itself if it exists, about half
    /// the page older and half newer.
    Around(Snowflake),
}

/// A history request: an anchor and a page size of 1-100.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Where the page starts.
    pub anchor: HistoryAnchor,
    /// How many messages at most (1-100; Discord's default is 50).
    pub limit: u8,
}

impl HistoryQuery {
    /// The largest page.
    pub const MAX_LIMIT: u8 = 100;

    /// The newest `limit` messages.
    pub fn latest(limit: u8) -> Self {
        HistoryQuery {
            anchor: HistoryAnchor::Latest,
            limit,
        }
    }

    /// Checks the limit; backends call this first.
    pub fn validate(&self) -> Result<()> {
        if self.limit == 0 || self.limit > Self::MAX_LIMIT {
            return Err(crate::StoreError::Invalid(format!(
                "limit must be 1-100, not {}",
                self.limit
            )));
        }
        Ok(())
    }

    /// For [`HistoryAnchor::Around`]: how many messages newer than the anchor
    /// (the rest are the anchor and older ones).
    pub fn around_newer(&self) -> usize {
        usize::from(self.limit) / 2
    }
}

/// What an insert did.
#[derive(Clone, Debug, PartialEq)]
pub enum InsertOutcome {
    /// The message was stored.
    Inserted,
    /// A message with the same nonce from the same author in the same channel
    /// already exists; nothing was stored. This is it.
    Duplicate(Box<MessageRecord>),
}

/// A reaction emoji as stored: `name` for Unicode emoji, `name:id` for
/// custom ones (the form Discord's routes use).
pub type EmojiKey = String;

/// One emoji's reactions on a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReactionCount {
    /// The emoji.
    pub emoji: EmojiKey,
    /// How many users reacted with it.
    pub count: u32,
    /// When the first reaction with this emoji was added (display order).
    pub first_at: Timestamp,
}

/// One emoji's reactions on a message as one viewer sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReactionSummary {
    /// The emoji, its count and when it was first used.
    pub count: ReactionCount,
    /// Whether the viewer is among those who reacted.
    pub me: bool,
}

/// Channel history. Backends must return pages newest first, without gaps or
/// duplicates, however messages are spread over time-bucket partitions.
#[async_trait]
pub trait MessageStore: Send + Sync + 'static {
    /// Stores a message. With a nonce, a second insert from the same author in
    /// the same channel with the same nonce stores nothing and returns the
    /// first message. `Ok` means the message is durable. A message ID that
    /// already exists is a `Conflict` on the SQL backends; CQL inserts are
    /// upserts, so ScyllaDB overwrites (IDs from a generator never repeat).
    async fn insert(&self, message: &MessageRecord) -> Result<InsertOutcome>;

    /// Stores many messages in one batch (no nonce de-duplication); `Ok`
    /// means all of them are durable.
    async fn insert_batch(&self, messages: &[MessageRecord]) -> Result<()>;

    /// One message.
    async fn get(&self, channel_id: Snowflake, id: Snowflake) -> Result<Option<MessageRecord>>;

    /// Replaces a stored message's content, edit time and body (the ID,
    /// channel, author and nonce stay). `NotFound` if it does not exist.
    async fn edit(&self, message: &MessageRecord) -> Result<()>;

    /// Deletes a message and its reactions; `false` if it did not exist.
    async fn delete(&self, channel_id: Snowflake, id: Snowflake) -> Result<bool>;

    /// Deletes several messages; returns the IDs that existed.
    async fn bulk_delete(&self, channel_id: Snowflake, ids: &[Snowflake])
    -> Result<Vec<Snowflake>>;

    /// A page of history, newest first.
    async fn history(
        &self,
        channel_id: Snowflake,
        query: HistoryQuery,
    ) -> Result<Vec<MessageRecord>>;

    /// Adds a user's reaction; `false` if it was already there.
    async fn add_reaction(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: &str,
        user_id: Snowflake,
    ) -> Result<bool>;

    /// Removes a user's reaction; `false` if it was not there.
    async fn remove_reaction(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: &str,
        user_id: Snowflake,
    ) -> Result<bool>;

    /// Reaction counts of a message, in the order emojis were first used.
    async fn reactions(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
    ) -> Result<Vec<ReactionCount>>;

    /// The reactions on several messages of a channel (a history page), as
    /// `viewer` sees them: for each message that has any, its emojis in the
    /// order of [`MessageStore::reactions`]. The default asks per message;
    /// backends answer in one query where they can.
    async fn reaction_summaries(
        &self,
        channel_id: Snowflake,
        message_ids: &[Snowflake],
        viewer: Snowflake,
    ) -> Result<HashMap<Snowflake, Vec<ReactionSummary>>> {
        let mut out = HashMap::new();
        for id in message_ids {
            let counts = self.reactions(channel_id, *id).await?;
            if counts.is_empty() {
                continue;
            }
            let mut list = Vec::with_capacity(counts.len());
            for count in counts {
                let after = Snowflake::new(viewer.get().saturating_sub(1));
                let me = self
                    .reaction_users(channel_id, *id, &count.emoji, Some(after), 1)
                    .await?
                    .first()
                    == Some(&viewer);
                list.push(ReactionSummary { count, me });
            }
            out.insert(*id, list);
        }
        Ok(out)
    }

    /// Users who reacted with `emoji`, by user ID ascending, after `after`.
    async fn reaction_users(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: &str,
        after: Option<Snowflake>,
        limit: u8,
    ) -> Result<Vec<Snowflake>>;
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}
