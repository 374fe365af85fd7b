//! Messages: history pages, get, create (JSON or multipart with
//! attachments; `create.rs`), edit, delete, bulk delete. Mentions are
//! resolved in `mentions.rs`.

mod create;
mod mentions;

use std::collections::HashSet;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use discord_proto::gateway::{DispatchEvent, MessageDelete, MessageDeleteBulk};
use discord_proto::model::{Embed, Message, Timestamp};
use discord_proto::rest::{FieldErrors, JsonErrorCode};
use discord_proto::{Permissions, Snowflake};
use discord_store::message::{HistoryAnchor, HistoryQuery, MessageRecord};
use serde::Deserialize;
use serde_json::Value;

use self::create::create;
use self::mentions::{AllowedMentions, resolve};
use super::{P, Q, no_content, ok};
use crate::access::ChannelAccess;
use crate::auth::Auth;
use crate::convert;
use crate::error::{ApiError, ApiResult, Body};
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/channels/{channel_id}/messages", get(list).post(create))
        .route(
            "/channels/{channel_id}/messages/bulk-delete",
            post(bulk_delete),
        )
        .route(
            "/channels/{channel_id}/messages/{message_id}",
            get(get_message).patch(edit).delete(delete_message),
        )
}

/// Largest message text, in characters.
const MAX_CONTENT: usize = 2000;
/// Largest single attachment.
const MAX_FILE: usize = 25 * 1024 * 1024;
/// Message flag: embeds hidden.
const SUPPRESS_EMBEDS: u64 = 1 << 2;
/// Flags a sender may set.
const SETTABLE_FLAGS: u64 = SUPPRESS_EMBEDS | (1 << 12);

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    limit: Option<u8>,
    #[serde(default)]
    before: Option<Snowflake>,
    #[serde(default)]
    after: Option<Snowflake>,
    #[serde(default)]
    around: Option<Snowflake>,
}

async fn list(
    State(state): State<AppState>,
    auth: Auth,
    P(channel_id): P<Snowflake>,
    Q(q): Q<ListQuery>,
) -> ApiResult<Response> {
    let access = ChannelAccess::load(&state, channel_id, auth.id()).await?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::field(
            "limit",
            "NUMBER_TYPE_MAX",
            "Must be between 1 and 100.",
        ));
    }
    let anchors = [
        q.before.map(HistoryAnchor::Before),
        q.after.map(HistoryAnchor::After),
        q.around.map(HistoryAnchor::Around),
    ];
    let mut given = anchors.into_iter().flatten();
    let anchor = given.next().unwrap_or(HistoryAnchor::Latest);
    if given.next().is_some() {
        return Err(ApiError::field(
            "",
            "BASE_TYPE_INVALID",
            "Only one of before, after and around may be given.",
        ));
    }
    if !access
        .permissions
        .contains(Permissions::READ_MESSAGE_HISTORY)
    {
        return Ok(ok(&Vec::<Message>::new()));
    }
    let records = state
        .stores
        .messages
        .history(channel_id, HistoryQuery { anchor, limit })
        .await?;
    Ok(ok(&convert::messages(
        &state,
        channel_id,
        &records,
        auth.id(),
    )
    .await?))
}

pub(super) async fn load_message(
    state: &AppState,
    channel_id: Snowflake,
    message_id: Snowflake,
) -> ApiResult<MessageRecord> {
    state
        .stores
        .messages
        .get(channel_id, message_id)
        .await?
        .ok_or_else(|| ApiError::unknown(JsonErrorCode::UNKNOWN_MESSAGE))
}

async fn get_message(
    State(state): State<AppState>,
    auth: Auth,
    P((channel_id, message_id)): P<(Snowflake, Snowflake)>,
) -> ApiResult<Response> {
    let access = ChannelAccess::load(&state, channel_id, auth.id()).await?;
    access.require(Permissions::READ_MESSAGE_HISTORY)?;
    let record = load_message(&state, channel_id, message_id).await?;
    let mut one = convert::messages(&state, channel_id, &[record], auth.id()).await?;
    Ok(ok(&one.remove(0)))
}

/// Checks a message's text and embeds against Discord's limits.
fn check_content(content: &str, embeds: &[Embed], errors: &mut FieldErrors) {
    if content.chars().count() > MAX_CONTENT {
        errors.add(
            "content",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 2000 or fewer in length.",
        );
    }
    if embeds.len() > 10 {
        errors.add(
            "embeds",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 10 or fewer in length.",
        );
    }
}

#[derive(Deserialize)]
struct EditMessage {
    #[serde(default)]
    content: Option<Option<String>>,
    #[serde(default)]
    embeds: Option<Option<Vec<Embed>>>,
    #[serde(default)]
    flags: Option<Option<u64>>,
    #[serde(default)]
    allowed_mentions: Option<AllowedMentions>,
    #[serde(default)]
    attachments: Option<Vec<Value>>,
}

async fn edit(
    State(state): State<AppState>,
    auth: Auth,
    P((channel_id, message_id)): P<(Snowflake, Snowflake)>,
    Body(req): Body<EditMessage>,
) -> ApiResult<Response> {
    let access = ChannelAccess::load(&state, channel_id, auth.id()).await?;
    let mut record = load_message(&state, channel_id, message_id).await?;
    let is_author = record.author_id == auth.id();
    let touches_body = req.content.is_some() || req.embeds.is_some() || req.attachments.is_some();
    if touches_body && !is_author {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            JsonErrorCode::CANNOT_EDIT_OTHERS_MESSAGE,
        ));
    }
    if !is_author && req.flags.is_some() {
        access.require(Permissions::MANAGE_MESSAGES)?;
    }
    if let Some(c) = req.content {
        record.content = c.unwrap_or_default();
    }
    if let Some(e) = req.embeds {
        record.body.embeds = e.unwrap_or_default();
    }
    if let Some(keep) = req.attachments {
        // Attachments not listed are removed.
        let keep: HashSet<String> = keep
            .iter()
            .filter_map(|v| v.get("id"))
            .map(|id| id.as_str().map_or_else(|| id.to_string(), str::to_owned))
            .collect();
        record
            .body
            .attachments
            .retain(|a| keep.contains(&a.id.to_string()));
    }
    if let Some(f) = req.flags {
        let f = f.unwrap_or(0);
        if f & !SETTABLE_FLAGS != 0 {
            return Err(ApiError::field(
                "flags",
                "MESSAGE_FLAGS_INVALID",
                "Only SUPPRESS_EMBEDS can be changed.",
            ));
        }
        record.body.flags = (record.body.flags & !SETTABLE_FLAGS) | f;
    }
    let mut errors = FieldErrors::new();
    check_content(&record.content, &record.body.embeds, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::form(errors));
    }
    if record.content.trim().is_empty()
        && record.body.embeds.is_empty()
        && record.body.attachments.is_empty()
    {
        return Err(ApiError::bad_request(JsonErrorCode::EMPTY_MESSAGE));
    }
    if touches_body {
        let m = resolve(
            &state,
            &access,
            &record.content,
            req.allowed_mentions.as_ref(),
            None,
        )
        .await?;
        record.body.mentions = m.users;
        record.body.mention_roles = m.roles;
        record.body.mention_everyone = m.everyone;
        record.edited_at = Some(Timestamp::now());
    }
    state.stores.messages.edit(&record).await?;
    let msg = convert::messages(&state, channel_id, &[record], auth.id())
        .await?
        .remove(0);
    let event = DispatchEvent::MessageUpdate(Box::new(msg.clone()));
    state.bus(channel_id, &event).await;
    state.emit(event).await;
    Ok(ok(&msg))
}

async fn remove_blobs(state: &AppState, record: &MessageRecord) {
    for a in &record.body.attachments {
        let key = format!("{}/{}/{}", record.channel_id, a.id, a.filename);
        if let Err(e) = state.stores.blobs.delete(&key).await {
            tracing::warn!(%key, "could not delete an attachment: {e}");
        }
    }
}

async fn delete_message(
    State(state): State<AppState>,
    auth: Auth,
    P((channel_id, message_id)): P<(Snowflake, Snowflake)>,
) -> ApiResult<Response> {
    let access = ChannelAccess::load(&state, channel_id, auth.id()).await?;
    let record = load_message(&state, channel_id, message_id).await?;
    if !record.body.kind.is_deletable() {
        return Err(ApiError::bad_request(JsonErrorCode::SYSTEM_MESSAGE));
    }
    if record.author_id != auth.id() {
        access.require(Permissions::MANAGE_MESSAGES)?;
    }
    if state.stores.messages.delete(channel_id, message_id).await? {
        remove_blobs(&state, &record).await;
        let event = DispatchEvent::MessageDelete(MessageDelete {
            id: message_id,
            channel_id,
            guild_id: Some(access.guild_id()),
        });
        state.bus(channel_id, &event).await;
        state.emit(event).await;
    }
    Ok(no_content())
}

#[derive(Deserialize)]
struct BulkDelete {
    messages: Vec<Snowflake>,
}

async fn bulk_delete(
    State(state): State<AppState>,
    auth: Auth,
    P(channel_id): P<Snowflake>,
    Body(req): Body<BulkDelete>,
) -> ApiResult<Response> {
    let access = ChannelAccess::load(&state, channel_id, auth.id()).await?;
    access.require(Permissions::MANAGE_MESSAGES)?;
    let mut ids = req.messages;
    ids.sort();
    ids.dedup();
    if !(2..=100).contains(&ids.len()) {
        return Err(ApiError::bad_request(JsonErrorCode::BULK_DELETE_COUNT));
    }
    let two_weeks_ago = Timestamp::now().unix_millis() - 14 * 86_400_000;
    if ids
        .iter()
        .any(|id| convert::created_at(*id).unix_millis() < two_weeks_ago)
    {
        return Err(ApiError::bad_request(
            JsonErrorCode::MESSAGE_TOO_OLD_TO_BULK_DELETE,
        ));
    }
    let mut records = Vec::new();
    for id in &ids {
        if let Some(r) = state.stores.messages.get(channel_id, *id).await? {
            records.push(r);
        }
    }
    let deleted = state.stores.messages.bulk_delete(channel_id, &ids).await?;
    for r in records.iter().filter(|r| deleted.contains(&r.id)) {
        remove_blobs(&state, r).await;
    }
    if !deleted.is_empty() {
        let event = DispatchEvent::MessageDeleteBulk(MessageDeleteBulk {
            ids: deleted,
            channel_id,
            guild_id: Some(access.guild_id()),
        });
        state.bus(channel_id, &event).await;
        state.emit(event).await;
    }
    Ok(no_content())
}
