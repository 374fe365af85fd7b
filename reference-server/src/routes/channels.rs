//! Channels: a guild's list, create, reorder; get, modify, delete;
//! permission overwrites; typing.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use discord_proto::gateway::{DispatchEvent, TypingStart};
use discord_proto::model::{Channel, ChannelType, OverwriteType, PermissionOverwrite, Timestamp};
use discord_proto::rest::{FieldErrors, JsonErrorCode};
use discord_proto::{Permissions, Snowflake};
use discord_store::guild::ChannelPosition;
use serde::Deserialize;

use super::{P, json, no_content, nullable, ok};
use crate::access::{ChannelAccess, GuildAccess};
use crate::auth::Auth;
use crate::convert;
use crate::error::{ApiError, ApiResult, Body};
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/guilds/{guild_id}/channels",
            get(list).post(create).patch(reorder),
        )
        .route(
            "/channels/{channel_id}",
            get(get_channel).patch(modify).delete(delete_channel),
        )
        .route(
            "/channels/{channel_id}/permissions/{overwrite_id}",
            put(put_overwrite).delete(delete_overwrite),
        )
        .route("/channels/{channel_id}/typing", post(typing))
}

async fn list(
    State(state): State<AppState>,
    auth: Auth,
    P(guild_id): P<Snowflake>,
) -> ApiResult<Response> {
    let access = GuildAccess::load(&state, guild_id, auth.id()).await?;
    let channels: Vec<Channel> = state
        .stores
        .guilds
        .channels(guild_id)
        .await?
        .into_iter()
        .filter(|c| {
            access
                .channel_permissions(c)
                .contains(Permissions::VIEW_CHANNEL)
        })
        .collect();
    Ok(ok(&channels))
}

#[derive(Deserialize)]
struct CreateChannel {
    name: String,
    #[serde(rename = "type", default)]
    kind: Option<u8>,
    #[serde(default)]
    topic: Option<String>,
    #[serde(default)]
    bitrate: Option<u32>,
    #[serde(default)]
    user_limit: Option<u32>,
    #[serde(default)]
    rate_limit_per_user: Option<u32>,
    #[serde(default)]
    position: Option<i32>,
    #[serde(default)]
    permission_overwrites: Option<Vec<PermissionOverwrite>>,
    #[serde(default)]
    parent_id: Option<Snowflake>,
    #[serde(default)]
    nsfw: Option<bool>,
}

/// The channel kinds a guild can create here.
const CREATABLE: [ChannelType; 5] = [
    ChannelType::GuildText,
    ChannelType::GuildVoice,
    ChannelType::GuildCategory,
    ChannelType::GuildAnnouncement,
    ChannelType::GuildStageVoice,
];

fn check_common(c: &Channel, errors: &mut FieldErrors, siblings: &[Channel]) {
    let name_len = c.name.as_deref().map_or(0, |n| n.chars().count());
    if !(1..=100).contains(&name_len) {
        errors.add(
            "name",
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 100 in length.",
        );
    }
    if c.topic.as_deref().is_some_and(|t| t.chars().count() > 1024) {
        errors.add(
            "topic",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 1024 or fewer in length.",
        );
    }
    if c.rate_limit_per_user.is_some_and(|r| r > 21_600) {
        errors.add(
            "rate_limit_per_user",
            "NUMBER_TYPE_MAX",
            "Must be 21600 or less.",
        );
    }
    if c.kind.is_voice() {
        if c.bitrate.is_some_and(|b| !(8_000..=384_000).contains(&b)) {
            errors.add(
                "bitrate",
                "NUMBER_TYPE_MIN",
                "Must be between 8000 and 384000.",
            );
        }
        if c.user_limit.is_some_and(|u| u > 99) {
            errors.add("user_limit", "NUMBER_TYPE_MAX", "Must be 99 or less.");
        }
    }
    if let Some(parent) = c.parent_id {
        let ok = c.kind != ChannelType::GuildCategory
            && siblings
                .iter()
                .any(|s| s.id == parent && s.kind == ChannelType::GuildCategory);
        if !ok {
            errors.add(
                "parent_id",
                "CHANNEL_PARENT_INVALID",
                "Not a category of this guild.",
            );
        }
    }
}

/// Overwrites may only grant or deny what the caller has (unless they are
/// an administrator).
fn check_overwrites(
    access: &GuildAccess,
    overwrites: &[PermissionOverwrite],
    have: Permissions,
) -> ApiResult<()> {
    if access
        .guild_permissions()
        .contains(Permissions::ADMINISTRATOR)
    {
        return Ok(());
    }
    for o in overwrites {
        if !have.contains(o.allow | o.deny) {
            return Err(ApiError::missing_permissions());
        }
    }
    Ok(())
}

fn text_name(kind: ChannelType, name: &str) -> String {
    if kind.is_voice() || kind == ChannelType::GuildCategory {
        name.trim().to_owned()
    } else {
        name.trim().to_lowercase().replace(char::is_whitespace, "-")
    }
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    P(guild_id): P<Snowflake>,
    Body(req): Body<CreateChannel>,
) -> ApiResult<Response> {
    let access = GuildAccess::load(&state, guild_id, auth.id()).await?;
    access.require(Permissions::MANAGE_CHANNELS)?;
    let kind = ChannelType::from_u8(req.kind.unwrap_or(0));
    let mut errors = FieldErrors::new();
    if !CREATABLE.contains(&kind) {
        errors.add(
            "type",
            "BASE_TYPE_CHOICES",
            "Value must be one of (0, 2, 4, 5, 13).",
        );
    }
    let siblings = state.stores.guilds.channels(guild_id).await?;
    if siblings.len() >= 500 {
        return Err(ApiError::bad_request(JsonErrorCode::MAX_CHANNELS));
    }
    let position = req.position.unwrap_or_else(|| {
        siblings
            .iter()
            .filter_map(|c| c.position)
            .max()
            .map_or(0, |p| p + 1)
    });
    let mut c = Channel::guild(
        state.next_id(),
        guild_id,
        kind,
        text_name(kind, &req.name),
        position,
    );
    c.topic = req.topic;
    if req.bitrate.is_some() {
        c.bitrate = req.bitrate;
    }
    if req.user_limit.is_some() {
        c.user_limit = req.user_limit;
    }
    if req.rate_limit_per_user.is_some() {
        c.rate_limit_per_user = req.rate_limit_per_user;
    }
    c.parent_id = req.parent_id;
    c.nsfw = Some(req.nsfw.unwrap_or(false));
    if let Some(o) = req.permission_overwrites {
        check_overwrites(&access, &o, access.guild_permissions())?;
        c.permission_overwrites = Some(o);
    }
    check_common(&c, &mut errors, &siblings);
    if !errors.is_empty() {
        return Err(ApiError::form(errors));
    }
    state.stores.guilds.create_channel(&c).await?;
    state
        .emit(DispatchEvent::ChannelCreate(Box::new(c.clone())))
        .await;
    Ok(json(StatusCode::CREATED, &c))
}

#[derive(Deserialize)]
struct Move {
    id: Snowflake,
    #[serde(default)]
    position: Option<i32>,
    #[serde(default, deserialize_with = "nullable")]
    parent_id: Option<Option<Snowflake>>,
}

async fn reorder(
    State(state): State<AppState>,
    auth: Auth,
    P(guild_id): P<Snowflake>,
    Body(moves): Body<Vec<Move>>,
) -> ApiResult<Response> {
    let access = GuildAccess::load(&state, guild_id, auth.id()).await?;
    access.require(Permissions::MANAGE_CHANNELS)?;
    let channels = state.stores.guilds.channels(guild_id).await?;
    let mut errors = FieldErrors::new();
    let mut positions = Vec::with_capacity(moves.len());
    for (i, m) in moves.iter().enumerate() {
        let Some(current) = channels.iter().find(|c| c.id == m.id) else {
            errors.add(&format!("{i}.id"), "CHANNEL_INVALID", "Unknown channel.");
            continue;
        };
        if let Some(Some(parent)) = m.parent_id
            && !channels
                .iter()
                .any(|c| c.id == parent && c.kind == ChannelType::GuildCategory)
        {
            errors.add(
                &format!("{i}.parent_id"),
                "CHANNEL_PARENT_INVALID",
                "Not a category of this guild.",
            );
        }
        positions.push(ChannelPosition {
            id: m.id,
            position: m.position.or(current.position).unwrap_or(0),
            parent_id: m.parent_id,
        });
    }
    if !errors.is_empty() {
        return Err(ApiError::form(errors));
    }
    state
        .stores
        .guilds
        .set_channel_positions(guild_id, &positions)
        .await?;
    for p in &positions {
        if let Some(c) = state.stores.guilds.channel(p.id).await? {
            state.emit(DispatchEvent::ChannelUpdate(Box::new(c))).await;
        }
    }
    Ok(no_content())
}

async fn get_channel(
    State(state): State<AppState>,
    auth: Auth,
    P(channel_id): P<Snowflake>,
) -> ApiResult<Response> {
    let access = ChannelAccess::load(&state, channel_id, auth.id()).await?;
    Ok(ok(&access.channel))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModifyChannel {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    topic: Option<Option<String>>,
    #[serde(default)]
    position: Option<i32>,
    #[serde(default)]
    nsfw: Option<bool>,
    #[serde(default)]
    rate_limit_per_user: Option<u32>,
    #[serde(default)]
    bitrate: Option<u32>,
    #[serde(default)]
    user_limit: Option<u32>,
    #[serde(default)]
    permission_overwrites: Option<Vec<PermissionOverwrite>>,
    #[serde(default, deserialize_with = "nullable")]
    parent_id: Option<Option<Snowflake>>,
    #[serde(default, deserialize_with = "nullable")]
    rtc_region: Option<Option<String>>,
    #[serde(rename = "type", default)]
    kind: Option<u8>,
}

async fn modify(
    State(state): State<AppState>,
    auth: Auth,
    P(channel_id): P<Snowflake>,
    Body(req): Body<ModifyChannel>,
) -> ApiResult<Response> {
    let access = ChannelAccess::load(&state, channel_id, auth.id()).await?;
    access.require(Permissions::MANAGE_CHANNELS)?;
    let mut c = access.channel.clone();
    let mut errors = FieldErrors::new();
    if let Some(k) = req.kind {
        // Text <-> announcement is the only conversion Discord allows.
        let to = ChannelType::from_u8(k);
        let ok = to == c.kind
            || matches!(
                (c.kind, to),
                (ChannelType::GuildText, ChannelType::GuildAnnouncement)
                    | (ChannelType::GuildAnnouncement, ChannelType::GuildText)
            );
        if !ok {
            errors.add(
                "type",
                "CHANNEL_TYPE_INVALID",
                "Cannot convert to this channel type.",
            );
        }
        c.kind = to;
    }
    if let Some(n) = req.name {
        c.name = Some(text_name(c.kind, &n));
    }
    if let Some(t) = req.topic {
        c.topic = t;
    }
    if let Some(p) = req.position {
        c.position = Some(p);
    }
    if let Some(n) = req.nsfw {
        c.nsfw = Some(n);
    }
    if let Some(r) = req.rate_limit_per_user {
        c.rate_limit_per_user = Some(r);
    }
    if let Some(b) = req.bitrate {
        c.bitrate = Some(b);
    }
    if let Some(u) = req.user_limit {
        c.user_limit = Some(u);
    }
    if let Some(p) = req.parent_id {
        c.parent_id = p;
    }
    if let Some(r) = req.rtc_region {
        c.rtc_region = r;
    }
    if let Some(o) = req.permission_overwrites {
        access.require(Permissions::MANAGE_ROLES)?;
        check_overwrites(&access.guild, &o, access.permissions)?;
        c.permission_overwrites = Some(o);
    }
    let siblings = state.stores.guilds.channels(access.guild_id()).await?;
    check_common(&c, &mut errors, &siblings);
    if !errors.is_empty() {
        return Err(ApiError::form(errors));
    }
    state.stores.guilds.update_channel(&c).await?;
    state
        .emit(DispatchEvent::ChannelUpdate(Box::new(c.clone())))
        .await;
    Ok(ok(&c))
}

async fn delete_channel(
    State(state): State<AppState>,
    auth: Auth,
    P(channel_id): P<Snowflake>,
) -> ApiResult<Response> {
    let access = ChannelAccess::load(&state, channel_id, auth.id()).await?;
    access.require(Permissions::MANAGE_CHANNELS)?;
    state.stores.guilds.delete_channel(channel_id).await?;
    let c = access.channel;
    state
        .emit(DispatchEvent::ChannelDelete(Box::new(c.clone())))
        .await;
    Ok(ok(&c))
}

#[derive(Deserialize)]
struct OverwriteBody {
    #[serde(rename = "type")]
    kind: OverwriteType,
    #[serde(default)]
    allow: Option<Permissions>,
    #[serde(default)]
    deny: Option<Permissions>,
}

async fn put_overwrite(
    State(state): State<AppState>,
    auth: Auth,
    P((channel_id, target)): P<(Snowflake, Snowflake)>,
    Body(req): Body<OverwriteBody>,
) -> ApiResult<Response> {
    let access = ChannelAccess::load(&state, channel_id, auth.id()).await?;
    access.require(Permissions::MANAGE_ROLES)?;
    let o = PermissionOverwrite {
        id: target,
        kind: req.kind,
        allow: req.allow.unwrap_or_default(),
        deny: req.deny.unwrap_or_default(),
    };
    check_overwrites(&access.guild, &[o], access.permissions)?;
    let mut c = access.channel.clone();
    let list = c.permission_overwrites.get_or_insert_with(Vec::new);
    list.retain(|x| x.id != target);
    list.push(o);
    state.stores.guilds.update_channel(&c).await?;
    state.emit(DispatchEvent::ChannelUpdate(Box::new(c))).await;
    Ok(no_content())
}

async fn delete_overwrite(
    State(state): State<AppState>,
    auth: Auth,
    P((channel_id, target)): P<(Snowflake, Snowflake)>,
) -> ApiResult<Response> {
    let access = ChannelAccess::load(&state, channel_id, auth.id()).await?;
    access.require(Permissions::MANAGE_ROLES)?;
    let mut c = access.channel.clone();
    let list = c.permission_overwrites.get_or_insert_with(Vec::new);
    let before = list.len();
    list.retain(|x| x.id != target);
    if list.len() != before {
        state.stores.guilds.update_channel(&c).await?;
        state.emit(DispatchEvent::ChannelUpdate(Box::new(c))).await;
    }
    Ok(no_content())
}

async fn typing(
    State(state): State<AppState>,
    auth: Auth,
    P(channel_id): P<Snowflake>,
) -> ApiResult<Response> {
    let access = ChannelAccess::load(&state, channel_id, auth.id()).await?;
    if !access.channel.kind.is_text_based() {
        return Err(ApiError::bad_request(JsonErrorCode::NON_TEXT_CHANNEL));
    }
    access.require(Permissions::SEND_MESSAGES)?;
    let member = convert::member(&access.guild.member, Some(auth.user.clone()));
    let now = u64::try_from(Timestamp::now().unix_millis() / 1000).unwrap_or(0);
    state
        .emit(DispatchEvent::TypingStart(Box::new(TypingStart {
            channel_id,
            guild_id: Some(access.guild_id()),
            user_id: auth.id(),
            timestamp: now,
            member: Some(member),
        })))
        .await;
    Ok(no_content())
}
