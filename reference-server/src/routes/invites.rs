//! Invites: create and list for a channel, list for a guild, view, join
//! and delete by code.

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use discord_proto::gateway::{DispatchEvent, InviteCreate, InviteDelete};
use discord_proto::model::{Invite, Timestamp};
use discord_proto::rest::{FieldErrors, JsonErrorCode};
use discord_proto::{Permissions, Snowflake};
use discord_store::StoreError;
use discord_store::guild::{InviteRecord, MemberRecord};
use rand::Rng;
use serde::Deserialize;

use super::{P, Q, ok};
use crate::access::{ChannelAccess, GuildAccess};
use crate::auth::{Auth, authenticate};
use crate::error::{ApiError, ApiResult, Body};
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/channels/{channel_id}/invites",
            get(list_channel).post(create),
        )
        .route("/guilds/{guild_id}/invites", get(list_guild))
        .route(
            "/invites/{code}",
            get(view).post(join).delete(delete_invite),
        )
}

/// The invite object, with metadata (uses, limits) when `metadata`.
async fn render(
    state: &AppState,
    r: &InviteRecord,
    metadata: bool,
    counts: bool,
) -> ApiResult<Invite> {
    let mut guild = state.stores.guilds.guild(r.guild_id).await?.map(Box::new);
    if let Some(g) = guild.as_mut() {
        g.roles = Vec::new();
    }
    let channel = state.stores.guilds.channel(r.channel_id).await?;
    let inviter = match r.inviter_id {
        Some(id) => state.stores.guilds.user(id).await?,
        None => None,
    };
    let member_count = if counts {
        Some(u32::try_from(state.stores.guilds.member_count(r.guild_id).await?).unwrap_or(u32::MAX))
    } else {
        None
    };
    Ok(Invite {
        kind: 0,
        code: r.code.clone(),
        guild,
        channel,
        inviter,
        approximate_member_count: member_count,
        approximate_presence_count: counts.then_some(0),
        expires_at: r.expires_at(),
        uses: metadata.then_some(r.uses),
        max_uses: metadata.then_some(r.max_uses),
        max_age: metadata.then_some(r.max_age),
        temporary: r.temporary,
        created_at: metadata.then_some(r.created_at),
    })
}

#[derive(Deserialize, Default)]
struct CreateInvite {
    #[serde(default)]
    max_age: Option<u32>,
    #[serde(default)]
    max_uses: Option<u32>,
    #[serde(default)]
    temporary: Option<bool>,
    #[serde(default)]
    unique: Option<bool>,
}

fn new_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..10)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    P(channel_id): P<Snowflake>,
    Body(req): Body<CreateInvite>,
) -> ApiResult<Response> {
    let access = ChannelAccess::load(&state, channel_id, auth.id()).await?;
    access.require(Permissions::CREATE_INSTANT_INVITE)?;
    let max_age = req.max_age.unwrap_or(86_400);
    let max_uses = req.max_uses.unwrap_or(0);
    let mut errors = FieldErrors::new();
    if max_age > 604_800 {
        errors.add(
            "max_age",
            "NUMBER_TYPE_MAX",
            "Must be between 0 and 604800.",
        );
    }
    if max_uses > 100 {
        errors.add("max_uses", "NUMBER_TYPE_MAX", "Must be between 0 and 100.");
    }
    if !errors.is_empty() {
        return Err(ApiError::form(errors));
    }
    let now = Timestamp::now();
    // Reuse an equivalent live invite unless a unique one is asked for.
    if req.unique != Some(true) {
        for existing in state.stores.guilds.channel_invites(channel_id).await? {
            if existing.inviter_id == Some(auth.id())
                && existing.max_age == max_age
                && existing.max_uses == max_uses
                && existing.temporary == req.temporary.unwrap_or(false)
                && existing.is_usable(now)
            {
                return Ok(ok(&render(&state, &existing, true, false).await?));
            }
        }
    }
    let mut record = InviteRecord {
        code: new_code(),
        guild_id: access.guild_id(),
        channel_id,
        inviter_id: Some(auth.id()),
        created_at: now,
        max_age,
        max_uses,
        uses: 0,
        temporary: req.temporary.unwrap_or(false),
    };
    let mut tries = 0;
    loop {
        match state.stores.guilds.create_invite(&record).await {
            Ok(()) => break,
            Err(StoreError::Conflict(_)) if tries < 5 => {
                tries += 1;
                record.code = new_code();
            }
            Err(e) => return Err(e.into()),
        }
    }
    state
        .emit(DispatchEvent::InviteCreate(Box::new(InviteCreate {
            channel_id,
            code: record.code.clone(),
            created_at: now,
            guild_id: Some(record.guild_id),
            inviter: Some(auth.user.clone()),
            max_age,
            max_uses,
            temporary: record.temporary,
            uses: 0,
            expires_at: record.expires_at(),
        })))
        .await;
    Ok(ok(&render(&state, &record, true, false).await?))
}

async fn list_channel(
    State(state): State<AppState>,
    auth: Auth,
    P(channel_id): P<Snowflake>,
) -> ApiResult<Response> {
    let access = ChannelAccess::load(&state, channel_id, auth.id()).await?;
    access.require(Permissions::MANAGE_CHANNELS)?;
    let mut out = Vec::new();
    for r in state.stores.guilds.channel_invites(channel_id).await? {
        out.push(render(&state, &r, true, false).await?);
    }
    Ok(ok(&out))
}

async fn list_guild(
    State(state): State<AppState>,
    auth: Auth,
    P(guild_id): P<Snowflake>,
) -> ApiResult<Response> {
    let access = GuildAccess::load(&state, guild_id, auth.id()).await?;
    access.require(Permissions::MANAGE_GUILD)?;
    let mut out = Vec::new();
    for r in state.stores.guilds.guild_invites(guild_id).await? {
        out.push(render(&state, &r, true, false).await?);
    }
    Ok(ok(&out))
}

async fn usable(state: &AppState, code: &str) -> ApiResult<InviteRecord> {
    match state.stores.guilds.invite(code).await? {
        Some(r) if r.is_usable(Timestamp::now()) => Ok(r),
        _ => Err(ApiError::unknown(JsonErrorCode::UNKNOWN_INVITE)),
    }
}

#[derive(Deserialize)]
struct ViewQuery {
    #[serde(default)]
    with_counts: Option<bool>,
}

async fn view(
    State(state): State<AppState>,
    P(code): P<String>,
    Q(q): Q<ViewQuery>,
) -> ApiResult<Response> {
    let r = usable(&state, &code).await?;
    Ok(ok(
        &render(&state, &r, false, q.with_counts == Some(true)).await?
    ))
}

async fn join(
    State(state): State<AppState>,
    headers: HeaderMap,
    P(code): P<String>,
) -> ApiResult<Response> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(ApiError::unauthorized)?;
    let user = authenticate(&state, value)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    if user.bot {
        // Bots are added by a guild manager, not through invites.
        return Err(ApiError::missing_access());
    }
    let r = usable(&state, &code).await?;
    if state
        .stores
        .guilds
        .member(r.guild_id, user.id)
        .await?
        .is_some()
    {
        return Ok(ok(&render(&state, &r, false, false).await?));
    }
    let used = match state
        .stores
        .guilds
        .use_invite(&code, Timestamp::now())
        .await
    {
        Ok(r) => r,
        Err(StoreError::NotFound(_) | StoreError::Invalid(_)) => {
            return Err(ApiError::unknown(JsonErrorCode::UNKNOWN_INVITE));
        }
        Err(e) => return Err(e.into()),
    };
    let record = MemberRecord::new(used.guild_id, user.id, Timestamp::now());
    match state.stores.guilds.add_member(&record).await {
        Ok(()) => super::members::announce_add(&state, &record, user).await,
        Err(StoreError::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(ok(&render(&state, &used, false, false).await?))
}

async fn delete_invite(
    State(state): State<AppState>,
    auth: Auth,
    P(code): P<String>,
) -> ApiResult<Response> {
    let r = state
        .stores
        .guilds
        .invite(&code)
        .await?
        .ok_or_else(|| ApiError::unknown(JsonErrorCode::UNKNOWN_INVITE))?;
    let access = ChannelAccess::load(&state, r.channel_id, auth.id()).await?;
    if !access.permissions.contains(Permissions::MANAGE_CHANNELS) {
        access.guild.require(Permissions::MANAGE_GUILD)?;
    }
    state.stores.guilds.delete_invite(&code).await?;
    state
        .emit(DispatchEvent::InviteDelete(InviteDelete {
            channel_id: r.channel_id,
            guild_id: Some(r.guild_id),
            code: code.clone(),
        }))
        .await;
    Ok(ok(&render(&state, &r, true, false).await?))
}
