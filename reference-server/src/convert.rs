//! Stored records to the models clients see.

use std::collections::HashMap;

use discord_proto::Snowflake;
use discord_proto::model::{
    Emoji, Member, Message, Nonce, Reaction, ReactionCountDetails, Timestamp, User,
};
use discord_store::guild::MemberRecord;
use discord_store::message::{MessageRecord, ReactionSummary};

use crate::error::ApiResult;
use crate::state::AppState;

/// A member record with its user.
pub fn member(record: &MemberRecord, user: Option<User>) -> Member {
    let mut m = Member::new(
        user.unwrap_or_else(|| deleted_user(record.user_id)),
        record.joined_at,
    );
    m.nick.clone_from(&record.nick);
    m.roles.clone_from(&record.roles);
    m.deaf = record.deaf;
    m.mute = record.mute;
    m.flags = record.flags;
    m.communication_disabled_until = record.communication_disabled_until;
    m
}

/// When a snowflake was made.
pub fn created_at(id: Snowflake) -> Timestamp {
    Timestamp::from_unix_millis(i64::try_from(id.timestamp_ms()).unwrap_or(i64::MAX))
}

/// Users by ID, each fetched once.
#[derive(Debug, Default)]
pub struct UserCache(HashMap<Snowflake, Option<User>>);

impl UserCache {
    /// A cache that already knows `user` (the caller, usually).
    pub fn with(user: &User) -> Self {
        UserCache(HashMap::from([(user.id, Some(user.clone()))]))
    }

    /// A user, or a placeholder for one that no longer exists.
    pub async fn get(&mut self, state: &AppState, id: Snowflake) -> ApiResult<User> {
        let user = match self.0.get(&id) {
            Some(u) => u.clone(),
            None => {
                let u = state.stores.guilds.user(id).await?;
                self.0.insert(id, u.clone());
                u
            }
        };
        Ok(user.unwrap_or_else(|| deleted_user(id)))
    }
}

/// A stored message as clients see it, with `reactions` as its viewer
/// sees them (from [`MessageStore::reaction_summaries`]).
///
/// [`MessageStore::reaction_summaries`]: discord_store::MessageStore::reaction_summaries
pub async fn message(
    state: &AppState,
    users: &mut UserCache,
    record: &MessageRecord,
    reactions: Option<&[ReactionSummary]>,
) -> ApiResult<Message> {
    let author = users.get(state, record.author_id).await?;
    let mut m = Message::new(
        record.id,
        record.channel_id,
        author,
        record.content.clone(),
        created_at(record.id),
    );
    m.guild_id = record.guild_id;
    m.edited_timestamp = record.edited_at;
    m.nonce = record.nonce.clone().map(Nonce::Str);
    let b = &record.body;
    m.kind = b.kind;
    m.flags = Some(b.flags);
    m.tts = b.tts;
    m.pinned = b.pinned;
    m.mention_everyone = b.mention_everyone;
    for id in &b.mentions {
        m.mentions.push(users.get(state, *id).await?);
    }
    m.mention_roles.clone_from(&b.mention_roles);
    m.attachments.clone_from(&b.attachments);
    m.embeds.clone_from(&b.embeds);
    m.message_reference.clone_from(&b.message_reference);
    m.webhook_id = b.webhook_id;
    m.application_id = b.application_id;
    if let Some(list) = reactions.filter(|l| !l.is_empty()) {
        m.reactions = Some(
            list.iter()
                .map(|s| Reaction {
                    count: s.count.count,
                    count_details: ReactionCountDetails {
                        burst: 0,
                        normal: s.count.count,
                    },
                    me: s.me,
                    me_burst: false,
                    emoji: emoji_of(&s.count.emoji),
                    burst_colors: Vec::new(),
                })
                .collect(),
        );
    }
    Ok(m)
}

/// Stored messages of one channel as `viewer` sees them, reactions
/// included (one store call for all of them).
pub async fn messages(
    state: &AppState,
    channel_id: Snowflake,
    records: &[MessageRecord],
    viewer: Snowflake,
) -> ApiResult<Vec<Message>> {
    let ids: Vec<Snowflake> = records.iter().map(|r| r.id).collect();
    let reactions = state
        .stores
        .messages
        .reaction_summaries(channel_id, &ids, viewer)
        .await?;
    let mut users = UserCache::default();
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        let list = reactions.get(&r.id).map(Vec::as_slice);
        out.push(message(state, &mut users, r, list).await?);
    }
    Ok(out)
}

/// The emoji object for a stored key (`name` or `name:id`).
pub fn emoji_of(key: &str) -> Emoji {
    match key.rsplit_once(':') {
        Some((name, id)) if id.parse::<u64>().is_ok() => {
            let mut e = Emoji::unicode(name);
            e.id = id.parse().ok().map(Snowflake::new);
            e
        }
        _ => Emoji::unicode(key),
    }
}

/// The user as they see themselves (`GET /users/@me`, READY's `user`):
/// with the account fields Discord always sends to the owner.
pub fn current_user(mut user: User) -> User {
    user.verified = Some(true);
    user.mfa_enabled = Some(false);
    user.locale = Some("en-US".to_owned());
    user.flags = Some(0);
    user.premium_type = Some(0);
    user.public_flags = Some(0);
    user
}

/// A new user as this server stores it: with the public flags Discord
/// sends on every user object (libraries such as twilight require them).
pub fn new_user(id: Snowflake, username: impl Into<String>) -> User {
    let mut user = User::new(id, username);
    user.public_flags = Some(0);
    user
}

/// What is shown for a user that no longer exists.
pub fn deleted_user(id: Snowflake) -> User {
    new_user(id, "Deleted User")
}
