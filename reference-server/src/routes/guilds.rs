//! Guilds: create (with @everyone, `general` and `General`), get, modify,
//! delete.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use discord_proto::gateway::{DispatchEvent, GuildCreate};
use discord_proto::model::{Channel, ChannelType, Guild, Role, Timestamp, UnavailableGuild};
use discord_proto::rest::{FieldErrors, JsonErrorCode};
use discord_proto::{Permissions, Snowflake};
use discord_store::guild::{MemberRecord, NewGuild};
use serde::Deserialize;

use super::{P, Q, json, no_content, ok};
use crate::access::{GuildAccess, default_everyone};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult, Body};
use crate::gateway_data::gateway_guild;
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/guilds", post(create)).route(
        "/guilds/{guild_id}",
        get(get_guild).patch(modify).delete(delete_guild),
    )
}

#[derive(Deserialize)]
struct CreateGuild {
    name: String,
    #[serde(default)]
    icon: Option<String>,
    #[serde(default)]
    verification_level: Option<u8>,
    #[serde(default)]
    default_message_notifications: Option<u8>,
    #[serde(default)]
    explicit_content_filter: Option<u8>,
}

fn check_name(name: &str, errors: &mut FieldErrors) {
    if !(2..=100).contains(&name.trim().chars().count()) {
        errors.add(
            "name",
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 2 and 100 in length.",
        );
    }
}

/// Sends GUILD_CREATE for `guild_id` to `user_id`'s sessions (a new guild
/// or a new member); the gateway starts routing the guild's events to them.
pub(super) async fn announce_join(state: &AppState, guild_id: Snowflake, user_id: Snowflake) {
    match gateway_guild(state.stores.guilds.as_ref(), guild_id, user_id).await {
        Ok(Some(mut g)) => {
            match state.voice.voice_states(guild_id).await {
                Ok(v) => g.voice_states = v,
                Err(e) => tracing::warn!("GUILD_CREATE without voice states: {e}"),
            }
            state
                .emit_to(
                    DispatchEvent::GuildCreate(GuildCreate::Available(Box::new(g))),
                    &[user_id],
                )
                .await;
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(%guild_id, "cannot load guild for GUILD_CREATE: {e}"),
    }
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    Body(req): Body<CreateGuild>,
) -> ApiResult<Response> {
    let mut errors = FieldErrors::new();
    check_name(&req.name, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::form(errors));
    }
    if state
        .stores
        .guilds
        .guild_ids_of_user(auth.id())
        .await?
        .len()
        >= 100
    {
        return Err(ApiError::bad_request(JsonErrorCode::MAX_GUILDS));
    }
    let id = state.next_id();
    let general = state.next_id();
    let voice = state.next_id();
    let mut guild = Guild::new(id, req.name.trim(), auth.id());
    guild.icon = req.icon;
    guild.verification_level = req.verification_level.unwrap_or(0);
    guild.default_message_notifications = req.default_message_notifications.unwrap_or(0);
    guild.explicit_content_filter = req.explicit_content_filter.unwrap_or(0);
    guild.system_channel_id = Some(general);
    let everyone = Role::new(id, "@everyone", default_everyone());
    let new = NewGuild {
        guild: guild.clone(),
        roles: vec![everyone.clone()],
        channels: vec![
            Channel::guild(general, id, ChannelType::GuildText, "general", 0),
            Channel::guild(voice, id, ChannelType::GuildVoice, "General", 0),
        ],
        owner: MemberRecord::new(id, auth.id(), Timestamp::now()),
    };
    state.stores.guilds.create_guild(&new).await?;
    announce_join(&state, id, auth.id()).await;
    guild.roles = vec![everyone];
    Ok(json(StatusCode::CREATED, &guild))
}

#[derive(Deserialize)]
struct GetQuery {
    #[serde(default)]
    with_counts: Option<bool>,
}

async fn get_guild(
    State(state): State<AppState>,
    auth: Auth,
    P(id): P<Snowflake>,
    Q(q): Q<GetQuery>,
) -> ApiResult<Response> {
    let access = GuildAccess::load(&state, id, auth.id()).await?;
    let mut guild = access.guild;
    guild.roles = access.roles;
    if q.with_counts == Some(true) {
        guild.approximate_member_count =
            Some(u32::try_from(state.stores.guilds.member_count(id).await?).unwrap_or(u32::MAX));
        guild.approximate_presence_count = Some(0);
    }
    Ok(ok(&guild))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModifyGuild {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<Option<String>>,
    #[serde(default)]
    icon: Option<Option<String>>,
    #[serde(default)]
    verification_level: Option<u8>,
    #[serde(default)]
    default_message_notifications: Option<u8>,
    #[serde(default)]
    explicit_content_filter: Option<u8>,
    #[serde(default)]
    afk_channel_id: Option<Option<Snowflake>>,
    #[serde(default)]
    afk_timeout: Option<u32>,
    #[serde(default)]
    system_channel_id: Option<Option<Snowflake>>,
    #[serde(default)]
    rules_channel_id: Option<Option<Snowflake>>,
    #[serde(default)]
    preferred_locale: Option<String>,
    #[serde(default)]
    owner_id: Option<Snowflake>,
}

async fn modify(
    State(state): State<AppState>,
    auth: Auth,
    P(id): P<Snowflake>,
    Body(req): Body<ModifyGuild>,
) -> ApiResult<Response> {
    let access = GuildAccess::load(&state, id, auth.id()).await?;
    access.require(Permissions::MANAGE_GUILD)?;
    let mut g = access.guild.clone();
    let mut errors = FieldErrors::new();
    if let Some(name) = req.name {
        check_name(&name, &mut errors);
        g.name = name.trim().to_owned();
    }
    if let Some(d) = req.description {
        g.description = d;
    }
    if let Some(i) = req.icon {
        g.icon = i;
    }
    if let Some(v) = req.verification_level {
        g.verification_level = v;
    }
    if let Some(v) = req.default_message_notifications {
        g.default_message_notifications = v;
    }
    if let Some(v) = req.explicit_content_filter {
        g.explicit_content_filter = v;
    }
    if let Some(v) = req.afk_timeout {
        if ![60, 300, 900, 1800, 3600].contains(&v) {
            errors.add(
                "afk_timeout",
                "BASE_TYPE_CHOICES",
                "Value must be one of (60, 300, 900, 1800, 3600).",
            );
        }
        g.afk_timeout = v;
    }
    if let Some(l) = req.preferred_locale {
        g.preferred_locale = l;
    }
    let channels = state.stores.guilds.channels(id).await?;
    let check_channel = |field: &str, value: Option<Snowflake>, errors: &mut FieldErrors| {
        if let Some(c) = value
            && !channels.iter().any(|ch| ch.id == c)
        {
            errors.add(field, "CHANNEL_INVALID", "Unknown channel.");
        }
    };
    if let Some(v) = req.afk_channel_id {
        check_channel("afk_channel_id", v, &mut errors);
        g.afk_channel_id = v;
    }
    if let Some(v) = req.system_channel_id {
        check_channel("system_channel_id", v, &mut errors);
        g.system_channel_id = v;
    }
    if let Some(v) = req.rules_channel_id {
        check_channel("rules_channel_id", v, &mut errors);
        g.rules_channel_id = v;
    }
    if let Some(owner) = req.owner_id {
        if !access.is_owner() {
            return Err(ApiError::missing_permissions());
        }
        if state.stores.guilds.member(id, owner).await?.is_none() {
            errors.add(
                "owner_id",
                "GUILD_OWNERSHIP_TRANSFER_INVALID",
                "The new owner must be a member.",
            );
        }
        g.owner_id = owner;
    }
    if !errors.is_empty() {
        return Err(ApiError::form(errors));
    }
    state.stores.guilds.update_guild(&g).await?;
    g.roles = access.roles;
    state
        .emit(DispatchEvent::GuildUpdate(Box::new(g.clone())))
        .await;
    Ok(ok(&g))
}

async fn delete_guild(
    State(state): State<AppState>,
    auth: Auth,
    P(id): P<Snowflake>,
) -> ApiResult<Response> {
    let access = GuildAccess::load(&state, id, auth.id()).await?;
    if !access.is_owner() {
        return Err(ApiError::missing_permissions());
    }
    state.stores.guilds.delete_guild(id).await?;
    state
        .emit(DispatchEvent::GuildDelete(UnavailableGuild {
            id,
            unavailable: false,
        }))
        .await;
    Ok(no_content())
}
