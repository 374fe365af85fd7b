//! Reactions: add and remove your own, remove someone else's, list who
//! reacted.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{delete, get, put};
use discord_proto::gateway::{DispatchEvent, MessageReactionAdd, MessageReactionRemove};
use discord_proto::rest::JsonErrorCode;
use discord_proto::{Permissions, Snowflake};
use serde::Deserialize;

use super::messages::load_message;
use super::{P, Q, no_content, ok};
use crate::access::ChannelAccess;
use crate::auth::Auth;
use crate::convert::{self, UserCache, emoji_of};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
            put(add).delete(remove_own),
        )
        .route(
            "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user_id}",
            delete(remove_other),
        )
        .route(
            "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}",
            get(list),
        )
}

/// Most distinct emojis on one message.
const MAX_EMOJIS: usize = 20;

/// The stored key of an emoji from the route: a Unicode emoji as is, a
/// custom one as `name:id`. This server has no custom emojis yet, and a
/// plain word is not an emoji: both are 10014 Unknown Emoji.
fn emoji_key(raw: &str) -> ApiResult<String> {
    let raw = raw.trim();
    let unicode =
        !raw.is_empty() && raw.chars().count() <= 16 && !raw.contains(':') && !raw.is_ascii();
    if unicode {
        Ok(raw.to_owned())
    } else {
        Err(ApiError::bad_request(JsonErrorCode::UNKNOWN_EMOJI))
    }
}

async fn add(
    State(state): State<AppState>,
    auth: Auth,
    P((channel_id, message_id, emoji)): P<(Snowflake, Snowflake, String)>,
) -> ApiResult<Response> {
    let access = ChannelAccess::load(&state, channel_id, auth.id()).await?;
    access.require(Permissions::READ_MESSAGE_HISTORY)?;
    let key = emoji_key(&emoji)?;
    let record = load_message(&state, channel_id, message_id).await?;
    let counts = state
        .stores
        .messages
        .reactions(channel_id, message_id)
        .await?;
    let exists = counts.iter().any(|c| c.emoji == key);
    if !exists {
        // A new emoji on the message needs ADD_REACTIONS; joining one does not.
        access.require(Permissions::ADD_REACTIONS)?;
        if counts.len() >= MAX_EMOJIS {
            return Err(ApiError::bad_request(JsonErrorCode::MAX_REACTIONS));
        }
    }
    if state
        .stores
        .messages
        .add_reaction(channel_id, message_id, &key, auth.id())
        .await?
    {
        let mut member = convert::member(&access.guild.member, Some(auth.user.clone()));
        member.permissions = None;
        state
            .emit(DispatchEvent::MessageReactionAdd(Box::new(
                MessageReactionAdd {
                    user_id: auth.id(),
                    channel_id,
                    message_id,
                    guild_id: Some(access.guild_id()),
                    member: Some(member),
                    emoji: emoji_of(&key),
                    message_author_id: Some(record.author_id),
                    burst: false,
                    burst_colors: Vec::new(),
                    kind: 0,
                },
            )))
            .await;
    }
    Ok(no_content())
}

async fn remove(
    state: &AppState,
    access: &ChannelAccess,
    message_id: Snowflake,
    key: &str,
    user_id: Snowflake,
) -> ApiResult<Response> {
    let channel_id = access.channel.id;
    load_message(state, channel_id, message_id).await?;
    if state
        .stores
        .messages
        .remove_reaction(channel_id, message_id, key, user_id)
        .await?
    {
        state
            .emit(DispatchEvent::MessageReactionRemove(Box::new(
                MessageReactionRemove {
                    user_id,
                    channel_id,
                    message_id,
                    guild_id: Some(access.guild_id()),
                    emoji: emoji_of(key),
                    burst: false,
                    kind: 0,
                },
            )))
            .await;
    }
    Ok(no_content())
}

async fn remove_own(
    State(state): State<AppState>,
    auth: Auth,
    P((channel_id, message_id, emoji)): P<(Snowflake, Snowflake, String)>,
) -> ApiResult<Response> {
    let access = ChannelAccess::load(&state, channel_id, auth.id()).await?;
    let key = emoji_key(&emoji)?;
    remove(&state, &access, message_id, &key, auth.id()).await
}

async fn remove_other(
    State(state): State<AppState>,
    auth: Auth,
    P((channel_id, message_id, emoji, user_id)): P<(Snowflake, Snowflake, String, Snowflake)>,
) -> ApiResult<Response> {
    let access = ChannelAccess::load(&state, channel_id, auth.id()).await?;
    if user_id != auth.id() {
        access.require(Permissions::MANAGE_MESSAGES)?;
    }
    let key = emoji_key(&emoji)?;
    remove(&state, &access, message_id, &key, user_id).await
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    after: Option<Snowflake>,
    #[serde(default)]
    limit: Option<u8>,
}

async fn list(
    State(state): State<AppState>,
    auth: Auth,
    P((channel_id, message_id, emoji)): P<(Snowflake, Snowflake, String)>,
    Q(q): Q<ListQuery>,
) -> ApiResult<Response> {
    let access = ChannelAccess::load(&state, channel_id, auth.id()).await?;
    access.require(Permissions::READ_MESSAGE_HISTORY)?;
    let key = emoji_key(&emoji)?;
    let limit = q.limit.unwrap_or(25);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::field(
            "limit",
            "NUMBER_TYPE_MAX",
            "Must be between 1 and 100.",
        ));
    }
    load_message(&state, channel_id, message_id).await?;
    let ids = state
        .stores
        .messages
        .reaction_users(channel_id, message_id, &key, q.after, limit)
        .await?;
    let mut users = UserCache::default();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(users.get(&state, id).await?);
    }
    Ok(ok(&out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_emojis_are_keys_and_words_are_not() {
        assert_eq!(emoji_key("👍").unwrap(), "👍");
        assert_eq!(emoji_key("1\u{fe0f}\u{20e3}").unwrap(), "1\u{fe0f}\u{20e3}");
        assert!(emoji_key("thumbsup").is_err());
        assert!(emoji_key("custom:123").is_err());
        assert!(emoji_key("").is_err());
    }
}
