//! Members: list (paginated), get, add a bot, modify (nick, roles, mute,
//! deaf, timeout), remove, and single role grants.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, patch, put};
use discord_proto::gateway::{DispatchEvent, GuildMemberAdd, GuildMemberRemove, GuildMemberUpdate};
use discord_proto::model::{Member, Timestamp, UnavailableGuild, User};
use discord_proto::rest::{FieldErrors, JsonErrorCode};
use discord_proto::{Permissions, Snowflake};
use discord_store::guild::MemberRecord;
use serde::Deserialize;

use super::{P, Q, json, no_content, nullable, ok};
use crate::access::GuildAccess;
use crate::auth::Auth;
use crate::convert;
use crate::error::{ApiError, ApiResult, Body};
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/guilds/{guild_id}/members", get(list))
        .route("/guilds/{guild_id}/members/@me", patch(modify_me))
        .route("/guilds/{guild_id}/members/search", get(search))
        .route(
            "/guilds/{guild_id}/members/{user_id}",
            get(get_member).put(add).patch(modify).delete(remove),
        )
        .route(
            "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
            put(add_role).delete(remove_role),
        )
}

/// GUILD_MEMBER_ADD to the guild, then GUILD_CREATE to the new member.
pub(super) async fn announce_add(state: &AppState, record: &MemberRecord, user: User) {
    let member = convert::member(record, Some(user));
    state
        .emit(DispatchEvent::GuildMemberAdd(Box::new(GuildMemberAdd {
            guild_id: record.guild_id,
            member,
        })))
        .await;
    super::guilds::announce_join(state, record.guild_id, record.user_id).await;
}

/// GUILD_MEMBER_REMOVE to the guild and GUILD_DELETE to the user who left.
pub(super) async fn announce_removal(state: &AppState, guild_id: Snowflake, user: User) {
    let uid = user.id;
    state
        .emit(DispatchEvent::GuildMemberRemove(Box::new(
            GuildMemberRemove { guild_id, user },
        )))
        .await;
    state
        .emit_to(
            DispatchEvent::GuildDelete(UnavailableGuild {
                id: guild_id,
                unavailable: false,
            }),
            &[uid],
        )
        .await;
}

async fn announce_update(state: &AppState, m: &Member, guild_id: Snowflake) {
    let Some(user) = m.user.clone() else { return };
    state
        .emit(DispatchEvent::GuildMemberUpdate(Box::new(
            GuildMemberUpdate {
                guild_id,
                roles: m.roles.clone(),
                user,
                nick: m.nick.clone(),
                avatar: None,
                joined_at: m.joined_at,
                premium_since: None,
                deaf: Some(m.deaf),
                mute: Some(m.mute),
                pending: Some(false),
                communication_disabled_until: m.communication_disabled_until,
                flags: Some(m.flags),
            },
        )))
        .await;
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    after: Option<Snowflake>,
}

async fn list(
    State(state): State<AppState>,
    auth: Auth,
    P(guild_id): P<Snowflake>,
    Q(q): Q<ListQuery>,
) -> ApiResult<Response> {
    GuildAccess::load(&state, guild_id, auth.id()).await?;
    let limit = page_limit(q.limit)?;
    let page = state
        .stores
        .guilds
        .members_with_users(guild_id, q.after, limit)
        .await?;
    let out: Vec<Member> = page
        .into_iter()
        .map(|(record, user)| convert::member(&record, user))
        .collect();
    Ok(ok(&out))
}

/// A member page's `limit`: 1-1000, 1 when absent (as Discord).
fn page_limit(limit: Option<u32>) -> ApiResult<u32> {
    let limit = limit.unwrap_or(1);
    if (1..=1000).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::field(
            "limit",
            "NUMBER_TYPE_MAX",
            "Must be between 1 and 1000.",
        ))
    }
}

#[derive(Deserialize)]
struct SearchQuery {
    query: String,
    #[serde(default)]
    limit: Option<u32>,
}

async fn search(
    State(state): State<AppState>,
    auth: Auth,
    P(guild_id): P<Snowflake>,
    Q(q): Q<SearchQuery>,
) -> ApiResult<Response> {
    GuildAccess::load(&state, guild_id, auth.id()).await?;
    let limit = page_limit(q.limit)?;
    let found = crate::gateway_data::search_members(
        state.stores.guilds.as_ref(),
        guild_id,
        &q.query,
        limit as usize,
    )
    .await?;
    Ok(ok(&found))
}

async fn load_member(
    state: &AppState,
    guild_id: Snowflake,
    user_id: Snowflake,
) -> ApiResult<MemberRecord> {
    state
        .stores
        .guilds
        .member(guild_id, user_id)
        .await?
        .ok_or_else(|| ApiError::unknown(JsonErrorCode::UNKNOWN_MEMBER))
}

async fn get_member(
    State(state): State<AppState>,
    auth: Auth,
    P((guild_id, user_id)): P<(Snowflake, Snowflake)>,
) -> ApiResult<Response> {
    GuildAccess::load(&state, guild_id, auth.id()).await?;
    let record = load_member(&state, guild_id, user_id).await?;
    let user = state.stores.guilds.user(user_id).await?;
    Ok(ok(&convert::member(&record, user)))
}

async fn add(
    State(state): State<AppState>,
    auth: Auth,
    P((guild_id, user_id)): P<(Snowflake, Snowflake)>,
) -> ApiResult<Response> {
    let access = GuildAccess::load(&state, guild_id, auth.id()).await?;
    if !access.is_owner() {
        access.require(Permissions::MANAGE_GUILD)?;
    }
    let user = state
        .stores
        .guilds
        .user(user_id)
        .await?
        .ok_or_else(|| ApiError::unknown(JsonErrorCode::UNKNOWN_USER))?;
    if !user.bot {
        // People join through invites; only bot users are added directly.
        return Err(ApiError::field(
            "user_id",
            "USER_NOT_BOT",
            "Only bot users can be added directly; people join with an invite.",
        ));
    }
    if state
        .stores
        .guilds
        .member(guild_id, user_id)
        .await?
        .is_some()
    {
        return Ok(no_content());
    }
    let record = MemberRecord::new(guild_id, user_id, Timestamp::now());
    match state.stores.guilds.add_member(&record).await {
        Ok(()) => {}
        Err(discord_store::StoreError::Conflict(_)) => return Ok(no_content()),
        Err(e) => return Err(e.into()),
    }
    announce_add(&state, &record, user.clone()).await;
    Ok(json(
        StatusCode::CREATED,
        &convert::member(&record, Some(user)),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModifyMember {
    #[serde(default, deserialize_with = "nullable")]
    nick: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    roles: Option<Option<Vec<Snowflake>>>,
    #[serde(default, deserialize_with = "nullable")]
    mute: Option<Option<bool>>,
    #[serde(default, deserialize_with = "nullable")]
    deaf: Option<Option<bool>>,
    #[serde(default, deserialize_with = "nullable")]
    channel_id: Option<Option<Snowflake>>,
    #[serde(default, deserialize_with = "nullable")]
    communication_disabled_until: Option<Option<Timestamp>>,
}

async fn apply_modify(
    state: &AppState,
    access: &GuildAccess,
    user_id: Snowflake,
    req: ModifyMember,
) -> ApiResult<Member> {
    let guild_id = access.guild.id;
    let mut record = load_member(state, guild_id, user_id).await?;
    let is_self = user_id == access.member.user_id;
    let target_is_owner = user_id == access.guild.owner_id;
    let perms = access.guild_permissions();
    let mut errors = FieldErrors::new();
    if let Some(nick) = req.nick {
        let needed = if is_self {
            Permissions::CHANGE_NICKNAME
        } else {
            Permissions::MANAGE_NICKNAMES
        };
        if !perms.intersects(needed | Permissions::MANAGE_NICKNAMES) {
            return Err(ApiError::missing_permissions());
        }
        if !is_self {
            access.require_above(access.position_of(&record.roles))?;
        }
        let nick = nick.filter(|n| !n.is_empty());
        if nick.as_ref().is_some_and(|n| n.chars().count() > 32) {
            errors.add(
                "nick",
                "BASE_TYPE_MAX_LENGTH",
                "Must be 32 or fewer in length.",
            );
        }
        record.nick = nick;
    }
    if let Some(roles) = req.roles {
        access.require(Permissions::MANAGE_ROLES)?;
        let mut roles = roles.unwrap_or_default();
        roles.sort();
        roles.dedup();
        roles.retain(|r| *r != guild_id);
        // Every role added or taken away must be below the caller's top role.
        let changed: Vec<Snowflake> = roles
            .iter()
            .filter(|r| !record.roles.contains(r))
            .chain(record.roles.iter().filter(|r| !roles.contains(r)))
            .copied()
            .collect();
        for r in &changed {
            match access.roles.iter().find(|x| x.id == *r) {
                None => {
                    errors.add("roles", "ROLE_INVALID", &format!("Unknown role {r}."));
                }
                Some(role) => access.require_above(role.position)?,
            }
        }
        record.roles = roles;
    }
    if let Some(m) = req.mute {
        access.require(Permissions::MUTE_MEMBERS)?;
        record.mute = m.unwrap_or(false);
    }
    if let Some(d) = req.deaf {
        access.require(Permissions::DEAFEN_MEMBERS)?;
        record.deaf = d.unwrap_or(false);
    }
    let voice_state = state.voice.voice_state(guild_id, user_id).await?;
    if let Some(target) = req.channel_id {
        access.require(Permissions::MOVE_MEMBERS)?;
        if voice_state.is_none() {
            errors.add(
                "channel_id",
                "VOICE_NOT_CONNECTED",
                "Target user is not connected to voice.",
            );
        } else if let Some(to) = target {
            // The mover needs CONNECT in the destination too.
            let channel = state
                .stores
                .guilds
                .channel(to)
                .await?
                .filter(|c| c.guild_id == Some(guild_id) && c.kind.is_voice());
            match channel {
                None => {
                    errors.add("channel_id", "CHANNEL_TYPE_INVALID", "Not a voice channel.");
                }
                Some(c)
                    if !access
                        .channel_permissions(&c)
                        .contains(Permissions::CONNECT) =>
                {
                    return Err(ApiError::missing_permissions());
                }
                Some(_) => {}
            }
        }
    }
    if let Some(until) = req.communication_disabled_until {
        access.require(Permissions::MODERATE_MEMBERS)?;
        if target_is_owner || is_self {
            return Err(ApiError::missing_permissions());
        }
        access.require_above(access.position_of(&record.roles))?;
        if let Some(t) = until
            && t.unix_millis() > Timestamp::now().unix_millis() + 28 * 86_400_000
        {
            errors.add(
                "communication_disabled_until",
                "BASE_TYPE_BAD_TIME",
                "Must be at most 28 days in the future.",
            );
        }
        record.communication_disabled_until = until;
    }
    if !errors.is_empty() {
        return Err(ApiError::form(errors));
    }
    state.stores.guilds.update_member(&record).await?;
    if let Some(voice) = voice_state {
        apply_voice(state, guild_id, user_id, &voice, &record, req.channel_id).await;
    }
    let user = state.stores.guilds.user(user_id).await?;
    let member = convert::member(&record, user);
    announce_update(state, &member, guild_id).await;
    Ok(member)
}

async fn modify(
    State(state): State<AppState>,
    auth: Auth,
    P((guild_id, user_id)): P<(Snowflake, Snowflake)>,
    Body(req): Body<ModifyMember>,
) -> ApiResult<Response> {
    let access = GuildAccess::load(&state, guild_id, auth.id()).await?;
    Ok(ok(&apply_modify(&state, &access, user_id, req).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModifyMe {
    #[serde(default, deserialize_with = "nullable")]
    nick: Option<Option<String>>,
}

async fn modify_me(
    State(state): State<AppState>,
    auth: Auth,
    P(guild_id): P<Snowflake>,
    Body(req): Body<ModifyMe>,
) -> ApiResult<Response> {
    let access = GuildAccess::load(&state, guild_id, auth.id()).await?;
    let req = ModifyMember {
        nick: req.nick,
        roles: None,
        mute: None,
        deaf: None,
        channel_id: None,
        communication_disabled_until: None,
    };
    Ok(ok(&apply_modify(&state, &access, auth.id(), req).await?))
}

async fn remove(
    State(state): State<AppState>,
    auth: Auth,
    P((guild_id, user_id)): P<(Snowflake, Snowflake)>,
) -> ApiResult<Response> {
    let access = GuildAccess::load(&state, guild_id, auth.id()).await?;
    access.require(Permissions::KICK_MEMBERS)?;
    let record = load_member(&state, guild_id, user_id).await?;
    if user_id == access.guild.owner_id {
        return Err(ApiError::missing_permissions());
    }
    access.require_above(access.position_of(&record.roles))?;
    if state.stores.guilds.remove_member(guild_id, user_id).await? {
        let user = state
            .stores
            .guilds
            .user(user_id)
            .await?
            .unwrap_or_else(|| convert::deleted_user(user_id));
        announce_removal(&state, guild_id, user).await;
    }
    Ok(no_content())
}

async fn change_role(
    state: &AppState,
    auth: &Auth,
    guild_id: Snowflake,
    user_id: Snowflake,
    role_id: Snowflake,
    add: bool,
) -> ApiResult<Response> {
    let access = GuildAccess::load(state, guild_id, auth.id()).await?;
    access.require(Permissions::MANAGE_ROLES)?;
    let role = access
        .roles
        .iter()
        .find(|r| r.id == role_id && r.id != guild_id)
        .ok_or_else(|| ApiError::unknown(JsonErrorCode::UNKNOWN_ROLE))?;
    access.require_above(role.position)?;
    let mut record = load_member(state, guild_id, user_id).await?;
    let had = record.roles.contains(&role_id);
    if add == had {
        return Ok(no_content());
    }
    if add {
        record.roles.push(role_id);
    } else {
        record.roles.retain(|r| *r != role_id);
    }
    state.stores.guilds.update_member(&record).await?;
    let user = state.stores.guilds.user(user_id).await?;
    announce_update(state, &convert::member(&record, user), guild_id).await;
    Ok(no_content())
}

async fn add_role(
    State(state): State<AppState>,
    auth: Auth,
    P((guild_id, user_id, role_id)): P<(Snowflake, Snowflake, Snowflake)>,
) -> ApiResult<Response> {
    change_role(&state, &auth, guild_id, user_id, role_id, true).await
}

async fn remove_role(
    State(state): State<AppState>,
    auth: Auth,
    P((guild_id, user_id, role_id)): P<(Snowflake, Snowflake, Snowflake)>,
) -> ApiResult<Response> {
    change_role(&state, &auth, guild_id, user_id, role_id, false).await
}

/// Carries a member update into voice: server mute and deafen apply at
/// once; `channel_id` moves the member (or disconnects them with `null`).
async fn apply_voice(
    state: &AppState,
    guild_id: Snowflake,
    user_id: Snowflake,
    current: &discord_proto::model::VoiceState,
    record: &discord_store::guild::MemberRecord,
    move_to: Option<Option<Snowflake>>,
) {
    if current.mute != record.mute || current.deaf != record.deaf {
        state
            .voice
            .set_server_flags(guild_id, user_id, Some(record.mute), Some(record.deaf))
            .await;
    }
    match move_to {
        Some(None) => state.voice.leave(guild_id, user_id).await,
        Some(Some(channel_id)) if current.channel_id != Some(channel_id) => {
            let session = discord_gateway::VoiceSession {
                session_id: current.session_id.clone(),
                user_id,
            };
            if let Err(why) = state
                .voice
                .join(
                    &session,
                    guild_id,
                    channel_id,
                    current.self_mute,
                    current.self_deaf,
                )
                .await
            {
                tracing::info!(%user_id, %channel_id, ?why, "voice move refused");
            }
        }
        _ => {}
    }
}
