//! Messages: history pages, get, create (JSON or multipart with
//! attachments), edit, delete, bulk delete.

use std::collections::HashSet;

use axum::Router;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::Response;
use axum::routing::{get, post};
use bytes::Bytes;
use discord_proto::gateway::{DispatchEvent, MessageDelete, MessageDeleteBulk};
use discord_proto::model::{
    Attachment, Embed, Message, MessageReference, MessageType, Nonce, Timestamp,
};
use discord_proto::rest::{FieldErrors, JsonErrorCode, RateLimited};
use discord_proto::{Permissions, Snowflake};
use discord_store::message::{
    HistoryAnchor, HistoryQuery, InsertOutcome, MessageBody, MessageRecord,
};
use serde::Deserialize;
use serde_json::Value;

use super::{P, Q, no_content, ok};
use crate::access::ChannelAccess;
use crate::auth::Auth;
use crate::convert::{self, UserCache};
use crate::error::{ApiError, ApiResult, Body, parse_json};
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

/// An attachment's metadata in `attachments` of the JSON part.
#[derive(Deserialize, Default, Clone)]
struct AttachmentMeta {
    id: Value,
    #[serde(default)]
    filename: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize, Default)]
struct AllowedMentions {
    #[serde(default)]
    parse: Option<Vec<String>>,
    #[serde(default)]
    users: Vec<Snowflake>,
    #[serde(default)]
    roles: Vec<Snowflake>,
    #[serde(default)]
    replied_user: Option<bool>,
}

#[derive(Deserialize, Default)]
struct CreateMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    nonce: Option<Nonce>,
    #[serde(default)]
    enforce_nonce: Option<bool>,
    #[serde(default)]
    tts: Option<bool>,
    #[serde(default)]
    embeds: Option<Vec<Embed>>,
    #[serde(default)]
    allowed_mentions: Option<AllowedMentions>,
    #[serde(default)]
    message_reference: Option<MessageReference>,
    #[serde(default)]
    attachments: Option<Vec<AttachmentMeta>>,
    #[serde(default)]
    flags: Option<u64>,
}

/// A file part of a multipart request.
struct Upload {
    index: usize,
    filename: String,
    content_type: Option<String>,
    data: Bytes,
}

fn safe_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if cleaned.trim_matches('.').is_empty() {
        "file".to_owned()
    } else {
        cleaned
    }
}

async fn read_multipart(mut mp: Multipart) -> ApiResult<(CreateMessage, Vec<Upload>)> {
    let mut body = CreateMessage::default();
    let mut uploads = Vec::new();
    let bad = |m: &str| ApiError::field("", "MULTIPART_INVALID", m);
    while let Some(field) = mp.next_field().await.map_err(|e| bad(&e.body_text()))? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "payload_json" {
            let bytes = field.bytes().await.map_err(|e| bad(&e.body_text()))?;
            body = parse_json(&bytes)?;
        } else if name == "content" || name == "nonce" || name == "tts" {
            let text = field.text().await.map_err(|e| bad(&e.body_text()))?;
            match name.as_str() {
                "content" => body.content = Some(text),
                "nonce" => body.nonce = Some(Nonce::Str(text)),
                _ => body.tts = Some(text == "true"),
            }
        } else if name == "file" || name.starts_with("files[") || name.starts_with("file") {
            let index = name
                .trim_start_matches("files[")
                .trim_start_matches("file")
                .trim_end_matches(']')
                .parse()
                .unwrap_or(uploads.len());
            let filename = safe_filename(field.file_name().unwrap_or("file"));
            let content_type = field.content_type().map(str::to_owned);
            let data = field.bytes().await.map_err(|e| {
                if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(e.status(), JsonErrorCode::REQUEST_TOO_LARGE)
                } else {
                    bad(&e.body_text())
                }
            })?;
            if data.len() > MAX_FILE {
                return Err(ApiError::new(
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                    JsonErrorCode::FILE_TOO_LARGE,
                ));
            }
            uploads.push(Upload {
                index,
                filename,
                content_type,
                data,
            });
        }
    }
    Ok((body, uploads))
}

/// Users, roles and @everyone mentioned in `content`, as allowed.
struct Mentions {
    users: Vec<Snowflake>,
    roles: Vec<Snowflake>,
    everyone: bool,
}

fn parse_mentions(content: &str) -> (Vec<Snowflake>, Vec<Snowflake>) {
    let mut users = Vec::new();
    let mut roles = Vec::new();
    let mut rest = content;
    while let Some(start) = rest.find("<@") {
        rest = &rest[start + 2..];
        let (is_role, body) = match rest.strip_prefix('&') {
            Some(b) => (true, b),
            None => (false, rest.strip_prefix('!').unwrap_or(rest)),
        };
        let Some(end) = body.find('>') else { break };
        if let Ok(id) = body[..end].parse::<u64>() {
            let list = if is_role { &mut roles } else { &mut users };
            if !list.contains(&Snowflake::new(id)) {
                list.push(Snowflake::new(id));
            }
        }
    }
    (users, roles)
}

async fn mentions(
    state: &AppState,
    access: &ChannelAccess,
    content: &str,
    allowed: Option<&AllowedMentions>,
    replied_to: Option<Snowflake>,
) -> ApiResult<Mentions> {
    let (users, roles) = parse_mentions(content);
    let parse_all = AllowedMentions {
        parse: Some(vec!["users".into(), "roles".into(), "everyone".into()]),
        ..AllowedMentions::default()
    };
    let allowed = allowed.unwrap_or(&parse_all);
    let parse = allowed.parse.clone().unwrap_or_default();
    let guild_id = access.guild_id();
    let mut out = Mentions {
        users: Vec::new(),
        roles: Vec::new(),
        everyone: false,
    };
    for u in users {
        if (parse.iter().any(|p| p == "users") || allowed.users.contains(&u))
            && state.stores.guilds.member(guild_id, u).await?.is_some()
        {
            out.users.push(u);
        }
    }
    if let Some(author) = replied_to
        && allowed.replied_user != Some(false)
        && !out.users.contains(&author)
    {
        out.users.push(author);
    }
    for r in roles {
        if (parse.iter().any(|p| p == "roles") || allowed.roles.contains(&r))
            && access
                .guild
                .roles
                .iter()
                .any(|x| x.id == r && x.id != guild_id)
        {
            out.roles.push(r);
        }
    }
    out.everyone = parse.iter().any(|p| p == "everyone")
        && (content.contains("@everyone") || content.contains("@here"))
        && access.permissions.contains(Permissions::MENTION_EVERYONE);
    Ok(out)
}

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

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    P(channel_id): P<Snowflake>,
    req: Request,
) -> ApiResult<Response> {
    let access = ChannelAccess::load(&state, channel_id, auth.id()).await?;
    if !access.channel.kind.is_text_based() {
        return Err(ApiError::bad_request(JsonErrorCode::NON_TEXT_CHANNEL));
    }
    access.require(Permissions::SEND_MESSAGES)?;
    let multipart = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let (body, uploads) = if multipart {
        let mp = Multipart::from_request(req, &state)
            .await
            .map_err(|e| ApiError::field("", "MULTIPART_INVALID", &e.body_text()))?;
        read_multipart(mp).await?
    } else {
        let Body(b) = Body::<CreateMessage>::from_request(req, &state).await?;
        (b, Vec::new())
    };
    if !uploads.is_empty() {
        access.require(Permissions::ATTACH_FILES)?;
    }
    let content = body.content.unwrap_or_default();
    let embeds = body.embeds.unwrap_or_default();
    let mut errors = FieldErrors::new();
    check_content(&content, &embeds, &mut errors);
    let nonce_key = body.nonce.as_ref().map(Nonce::as_key);
    if nonce_key.as_ref().is_some_and(|n| n.chars().count() > 25) {
        errors.add(
            "nonce",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 25 or fewer in length.",
        );
    }
    if let Some(flags) = body.flags
        && flags & !SETTABLE_FLAGS != 0
    {
        errors.add(
            "flags",
            "MESSAGE_FLAGS_INVALID",
            "Only SUPPRESS_EMBEDS and SUPPRESS_NOTIFICATIONS can be set.",
        );
    }
    if !errors.is_empty() {
        return Err(ApiError::form(errors));
    }
    if content.trim().is_empty() && embeds.is_empty() && uploads.is_empty() {
        return Err(ApiError::bad_request(JsonErrorCode::EMPTY_MESSAGE));
    }

    // A reply must point at a message in this channel (unless told not to
    // mind).
    let mut kind = MessageType::DEFAULT;
    let mut reference = None;
    let mut referenced = None;
    if let Some(mut r) = body.message_reference
        && let Some(mid) = r.message_id
    {
        let ref_channel = r.channel_id.unwrap_or(channel_id);
        let found = if ref_channel == channel_id {
            state.stores.messages.get(channel_id, mid).await?
        } else {
            None
        };
        match found {
            Some(m) => {
                kind = MessageType::REPLY;
                r.channel_id = Some(channel_id);
                r.guild_id = Some(access.guild_id());
                r.fail_if_not_exists = None;
                reference = Some(r);
                referenced = Some(m);
            }
            None if r.fail_if_not_exists == Some(false) => {}
            None => {
                return Err(ApiError::field(
                    "message_reference",
                    "REPLIES_UNKNOWN_MESSAGE",
                    "Unknown message",
                ));
            }
        }
    }

    let id = state.next_id();
    let mut attachments = Vec::with_capacity(uploads.len());
    let metas = body.attachments.unwrap_or_default();
    for up in uploads {
        let meta = metas
            .iter()
            .find(|m| {
                m.id.as_u64() == Some(up.index as u64)
                    || m.id.as_str() == Some(&up.index.to_string())
            })
            .cloned()
            .unwrap_or_default();
        let filename = meta.filename.map_or(up.filename, |f| safe_filename(&f));
        let att_id = state.next_id();
        let key = format!("{channel_id}/{att_id}/{filename}");
        let size = up.data.len() as u64;
        state.stores.blobs.put(&key, up.data).await?;
        let url = format!("{}/attachments/{key}", state.public_url);
        attachments.push(Attachment {
            id: att_id,
            filename,
            title: None,
            description: meta.description,
            content_type: up.content_type,
            size,
            url: url.clone(),
            proxy_url: url,
            height: None,
            width: None,
            ephemeral: false,
            duration_secs: None,
            waveform: None,
            flags: None,
        });
    }

    let m = mentions(
        &state,
        &access,
        &content,
        body.allowed_mentions.as_ref(),
        referenced.as_ref().map(|r: &MessageRecord| r.author_id),
    )
    .await?;
    // Slowmode, checked last so that a refused request does not count.
    let interval = access.channel.rate_limit_per_user.unwrap_or(0);
    let exempt = auth.user.bot
        || access.permissions.intersects(
            Permissions::MANAGE_MESSAGES
                | Permissions::MANAGE_CHANNELS
                | Permissions::BYPASS_SLOWMODE,
        );
    if interval > 0
        && !exempt
        && let Err(left) = state.slowmode.check(
            channel_id,
            auth.id(),
            std::time::Duration::from_secs(u64::from(interval)),
            std::time::Instant::now(),
        )
    {
        let body = RateLimited {
            message: JsonErrorCode::SLOWMODE_RATE_LIMIT.message().to_owned(),
            retry_after: (left.as_secs_f64() * 1000.0).ceil() / 1000.0,
            global: false,
            code: Some(JsonErrorCode::SLOWMODE_RATE_LIMIT),
        };
        return Ok(super::json(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            &body,
        ));
    }
    let enforce = body.enforce_nonce == Some(true);
    let record = MessageRecord {
        id,
        channel_id,
        guild_id: Some(access.guild_id()),
        author_id: auth.id(),
        content,
        nonce: if enforce { nonce_key.clone() } else { None },
        edited_at: None,
        body: MessageBody {
            kind,
            flags: body.flags.unwrap_or(0),
            tts: body.tts.unwrap_or(false)
                && access.permissions.contains(Permissions::SEND_TTS_MESSAGES),
            pinned: false,
            mention_everyone: m.everyone,
            mentions: m.users,
            mention_roles: m.roles,
            attachments,
            embeds,
            message_reference: reference,
            webhook_id: None,
            application_id: None,
        },
    };
    let mut users = UserCache::with(&auth.user);
    match state.stores.messages.insert(&record).await? {
        InsertOutcome::Duplicate(existing) => {
            // A retry of a message we already have: the first one, again.
            let mut msg = convert::messages(&state, channel_id, &[*existing], auth.id())
                .await?
                .remove(0);
            msg.nonce = body.nonce;
            return Ok(ok(&msg));
        }
        InsertOutcome::Inserted => {}
    }
    state.metrics.messages.inc();
    let mut msg = convert::message(&state, &mut users, &record, None).await?;
    msg.nonce = body.nonce;
    if let Some(r) = &referenced {
        msg.referenced_message = Some(Box::new(
            convert::message(&state, &mut users, r, None).await?,
        ));
    }
    let mut event_msg = msg.clone();
    let mut member = convert::member(&access.guild.member, None);
    member.user = None;
    event_msg.member = Some(member);
    let event = DispatchEvent::MessageCreate(Box::new(event_msg));
    state.bus(channel_id, &event).await;
    state.emit(event).await;
    Ok(ok(&msg))
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
        let m = mentions(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_found_in_content() {
        let (users, roles) = parse_mentions("hi <@1> and <@!2>, <@&3> <@1> <@x> <@4");
        assert_eq!(users, vec![Snowflake::new(1), Snowflake::new(2)]);
        assert_eq!(roles, vec![Snowflake::new(3)]);
    }

    #[test]
    fn filenames_are_made_safe() {
        assert_eq!(safe_filename("../../etc/passwd"), "passwd");
        assert_eq!(safe_filename("a b?.png"), "a_b_.png");
        assert_eq!(safe_filename(".."), "file");
    }
}
