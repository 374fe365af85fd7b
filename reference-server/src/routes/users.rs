//! Users: `@me`, profiles, the caller's guilds, leaving a guild.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{delete, get};
use discord_proto::Snowflake;
use discord_proto::rest::{FieldErrors, JsonErrorCode};
use discord_store::StoreError;
use serde::Deserialize;
use serde_json::json as j;

use super::{P, Q, no_content, ok};
use crate::access::GuildAccess;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult, Body};
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/users/@me", get(me).patch(modify_me))
        .route("/users/@me/guilds", get(my_guilds))
        .route("/users/@me/guilds/{guild_id}", delete(leave))
        .route("/users/{user_id}", get(user))
}

async fn me(auth: Auth) -> Response {
    ok(&crate::convert::current_user(auth.user))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModifyMe {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    global_name: Option<Option<String>>,
    #[serde(default)]
    avatar: Option<Option<String>>,
    #[serde(default)]
    banner: Option<Option<String>>,
}

async fn modify_me(
    State(state): State<AppState>,
    auth: Auth,
    Body(req): Body<ModifyMe>,
) -> ApiResult<Response> {
    let mut user = auth.user;
    let mut errors = FieldErrors::new();
    if let Some(name) = req.username {
        super::accounts::check_username(&name, &mut errors, "username");
        user.username = name;
    }
    if let Some(g) = req.global_name {
        if g.as_ref().is_some_and(|g| g.chars().count() > 32) {
            errors.add(
                "global_name",
                "BASE_TYPE_BAD_LENGTH",
                "Must be 32 or fewer in length.",
            );
        }
        user.global_name = g;
    }
    if let Some(a) = req.avatar {
        user.avatar = a;
    }
    if let Some(b) = req.banner {
        user.banner = b;
    }
    if !errors.is_empty() {
        return Err(ApiError::form(errors));
    }
    match state.stores.guilds.update_user(&user).await {
        Ok(()) => {
            let user = crate::convert::current_user(user);
            // USER_UPDATE to the user's own sessions.
            match discord_gateway::Event::raw("USER_UPDATE", None, &user) {
                Ok(event) => {
                    if let Err(e) = state.gateway.publish(&event.to_users([user.id])).await {
                        tracing::warn!("USER_UPDATE publish failed: {e}");
                    }
                }
                Err(e) => tracing::error!("cannot encode USER_UPDATE: {e}"),
            }
            Ok(ok(&user))
        }
        Err(StoreError::Conflict(_)) => Err(ApiError::field(
            "username",
            "USERNAME_ALREADY_TAKEN",
            "Username is unavailable.",
        )),
        Err(e) => Err(e.into()),
    }
}

async fn user(
    State(state): State<AppState>,
    _auth: Auth,
    P(id): P<Snowflake>,
) -> ApiResult<Response> {
    match state.stores.guilds.user(id).await? {
        Some(u) => Ok(ok(&u)),
        None => Err(ApiError::unknown(JsonErrorCode::UNKNOWN_USER)),
    }
}

#[derive(Deserialize)]
struct GuildsQuery {
    #[serde(default)]
    before: Option<Snowflake>,
    #[serde(default)]
    after: Option<Snowflake>,
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    with_counts: Option<bool>,
}

async fn my_guilds(
    State(state): State<AppState>,
    auth: Auth,
    Q(q): Q<GuildsQuery>,
) -> ApiResult<Response> {
    let limit = q.limit.unwrap_or(200);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::field(
            "limit",
            "NUMBER_TYPE_MAX",
            "Must be between 1 and 200.",
        ));
    }
    let mut ids = state.stores.guilds.guild_ids_of_user(auth.id()).await?;
    ids.sort();
    ids.retain(|id| q.after.is_none_or(|a| *id > a) && q.before.is_none_or(|b| *id < b));
    if q.before.is_some() && q.after.is_none() {
        let skip = ids.len().saturating_sub(limit as usize);
        ids.drain(..skip);
    }
    ids.truncate(limit as usize);
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Ok(access) = GuildAccess::load(&state, id, auth.id()).await else {
            continue;
        };
        let g = &access.guild;
        let mut v = j!({
            "id": g.id,
            "name": g.name,
            "icon": g.icon,
            "banner": g.banner,
            "owner": access.is_owner(),
            "permissions": access.guild_permissions(),
            "features": g.features,
        });
        if q.with_counts == Some(true) {
            v["approximate_member_count"] = j!(state.stores.guilds.member_count(id).await?);
            v["approximate_presence_count"] = j!(0);
        }
        out.push(v);
    }
    Ok(ok(&out))
}

async fn leave(
    State(state): State<AppState>,
    auth: Auth,
    P(guild_id): P<Snowflake>,
) -> ApiResult<Response> {
    let access = GuildAccess::load(&state, guild_id, auth.id()).await?;
    if access.is_owner() {
        return Err(ApiError::field(
            "",
            "GUILD_OWNER_CANNOT_LEAVE",
            "The guild owner cannot leave; transfer or delete the guild.",
        ));
    }
    state
        .stores
        .guilds
        .remove_member(guild_id, auth.id())
        .await?;
    super::members::announce_removal(&state, guild_id, auth.user).await;
    Ok(no_content())
}
