//! `POST /channels/{id}/messages`: JSON or multipart bodies, attachments
//! through the blob store, replies, nonces, slowmode, and the events.

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::Response;
use bytes::Bytes;
use discord_proto::gateway::DispatchEvent;
use discord_proto::model::{Attachment, Embed, MessageReference, MessageType, Nonce};
use discord_proto::rest::{FieldErrors, JsonErrorCode, RateLimited};
use discord_proto::{Permissions, Snowflake};
use discord_store::message::{InsertOutcome, MessageBody, MessageRecord};
use serde::Deserialize;
use serde_json::Value;

use super::mentions::{AllowedMentions, resolve};
use super::{MAX_FILE, SETTABLE_FLAGS, check_content};
use crate::access::ChannelAccess;
use crate::auth::Auth;
use crate::convert::{self, UserCache};
use crate::error::{ApiError, ApiResult, Body, parse_json};
use crate::routes::{P, json, ok};
use crate::state::AppState;

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

/// `POST /channels/{id}/messages`.
pub(super) async fn create(
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

    let m = resolve(
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
        return Ok(json(axum::http::StatusCode::TOO_MANY_REQUESTS, &body));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_are_made_safe() {
        assert_eq!(safe_filename("../../etc/passwd"), "passwd");
        assert_eq!(safe_filename("a b?.png"), "a_b_.png");
        assert_eq!(safe_filename(".."), "file");
    }
}
