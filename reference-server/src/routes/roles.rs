//! Roles: list, get, create, reorder, modify, delete, within the role
//! hierarchy (a member manages only roles below their highest).

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use discord_proto::gateway::{DispatchEvent, GuildRoleDelete, GuildRoleEvent};
use discord_proto::model::Role;
use discord_proto::rest::{FieldErrors, JsonErrorCode};
use discord_proto::{Permissions, Snowflake};
use serde::Deserialize;

use super::{P, no_content, nullable, ok};
use crate::access::GuildAccess;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult, Body};
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/guilds/{guild_id}/roles",
            get(list).post(create).patch(reorder),
        )
        .route(
            "/guilds/{guild_id}/roles/{role_id}",
            get(get_role).patch(modify).delete(delete_role),
        )
}

async fn list(
    State(state): State<AppState>,
    auth: Auth,
    P(guild_id): P<Snowflake>,
) -> ApiResult<Response> {
    let access = GuildAccess::load(&state, guild_id, auth.id()).await?;
    Ok(ok(&access.roles))
}

fn find(access: &GuildAccess, role_id: Snowflake) -> ApiResult<Role> {
    access
        .roles
        .iter()
        .find(|r| r.id == role_id)
        .cloned()
        .ok_or_else(|| ApiError::unknown(JsonErrorCode::UNKNOWN_ROLE))
}

async fn get_role(
    State(state): State<AppState>,
    auth: Auth,
    P((guild_id, role_id)): P<(Snowflake, Snowflake)>,
) -> ApiResult<Response> {
    let access = GuildAccess::load(&state, guild_id, auth.id()).await?;
    Ok(ok(&find(&access, role_id)?))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    permissions: Option<Permissions>,
    #[serde(default)]
    color: Option<u32>,
    #[serde(default)]
    hoist: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    icon: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    unicode_emoji: Option<Option<String>>,
    #[serde(default)]
    mentionable: Option<bool>,
}

/// Applies a create/modify body; only permissions the caller has can be
/// granted (administrators and the owner can grant any).
fn apply(
    access: &GuildAccess,
    role: &mut Role,
    body: RoleBody,
    errors: &mut FieldErrors,
) -> ApiResult<()> {
    if let Some(name) = body.name {
        if role.id == access.guild.id && name != role.name {
            errors.add(
                "name",
                "ROLE_NAME_EVERYONE",
                "The @everyone role cannot be renamed.",
            );
        } else if !(1..=100).contains(&name.chars().count()) {
            errors.add(
                "name",
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            );
        }
        role.name = name;
    }
    if let Some(p) = body.permissions {
        let have = access.guild_permissions();
        if !have.contains(Permissions::ADMINISTRATOR) && !have.contains(p & !role.permissions) {
            return Err(ApiError::missing_permissions());
        }
        role.permissions = p;
    }
    if let Some(c) = body.color {
        if c > 0xFF_FFFF {
            errors.add("color", "NUMBER_TYPE_MAX", "Must be 16777215 or less.");
        }
        role.color = c;
        role.colors.primary_color = c;
    }
    if let Some(h) = body.hoist {
        role.hoist = h;
    }
    if let Some(i) = body.icon {
        role.icon = i;
    }
    if let Some(u) = body.unicode_emoji {
        role.unicode_emoji = u;
    }
    if let Some(m) = body.mentionable {
        role.mentionable = m;
    }
    Ok(())
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    P(guild_id): P<Snowflake>,
    Body(body): Body<RoleBody>,
) -> ApiResult<Response> {
    let access = GuildAccess::load(&state, guild_id, auth.id()).await?;
    access.require(Permissions::MANAGE_ROLES)?;
    if access.roles.len() >= 250 {
        return Err(ApiError::bad_request(JsonErrorCode::MAX_ROLES));
    }
    let mut role = Role::new(state.next_id(), "new role", Permissions::empty());
    role.permissions = access
        .roles
        .iter()
        .find(|r| r.id == guild_id)
        .map_or(Permissions::empty(), |r| r.permissions);
    let mut errors = FieldErrors::new();
    apply(&access, &mut role, body, &mut errors)?;
    if !errors.is_empty() {
        return Err(ApiError::form(errors));
    }
    // New roles go just above @everyone; the others move up one.
    role.position = 1;
    let mut moved = Vec::new();
    for other in access
        .roles
        .iter()
        .filter(|r| r.id != guild_id && r.position >= 1)
    {
        let mut m = other.clone();
        m.position += 1;
        state.stores.guilds.update_role(guild_id, &m).await?;
        moved.push(m);
    }
    state.stores.guilds.create_role(guild_id, &role).await?;
    for m in moved {
        state
            .emit(DispatchEvent::GuildRoleUpdate(Box::new(GuildRoleEvent {
                guild_id,
                role: m,
            })))
            .await;
    }
    state
        .emit(DispatchEvent::GuildRoleCreate(Box::new(GuildRoleEvent {
            guild_id,
            role: role.clone(),
        })))
        .await;
    Ok(ok(&role))
}

#[derive(Deserialize)]
struct RolePosition {
    id: Snowflake,
    #[serde(default)]
    position: Option<i32>,
}

async fn reorder(
    State(state): State<AppState>,
    auth: Auth,
    P(guild_id): P<Snowflake>,
    Body(moves): Body<Vec<RolePosition>>,
) -> ApiResult<Response> {
    let access = GuildAccess::load(&state, guild_id, auth.id()).await?;
    access.require(Permissions::MANAGE_ROLES)?;
    let mut changed = Vec::new();
    let mut errors = FieldErrors::new();
    for (i, m) in moves.iter().enumerate() {
        let Some(mut role) = access.roles.iter().find(|r| r.id == m.id).cloned() else {
            errors.add(&format!("{i}.id"), "ROLE_INVALID", "Unknown role.");
            continue;
        };
        let Some(position) = m.position else { continue };
        if role.id == guild_id {
            continue;
        }
        access.require_above(role.position)?;
        access.require_above(position)?;
        role.position = position.max(1);
        changed.push(role);
    }
    if !errors.is_empty() {
        return Err(ApiError::form(errors));
    }
    for role in &changed {
        state.stores.guilds.update_role(guild_id, role).await?;
        state
            .emit(DispatchEvent::GuildRoleUpdate(Box::new(GuildRoleEvent {
                guild_id,
                role: role.clone(),
            })))
            .await;
    }
    Ok(ok(&state.stores.guilds.roles(guild_id).await?))
}

async fn modify(
    State(state): State<AppState>,
    auth: Auth,
    P((guild_id, role_id)): P<(Snowflake, Snowflake)>,
    Body(body): Body<RoleBody>,
) -> ApiResult<Response> {
    let access = GuildAccess::load(&state, guild_id, auth.id()).await?;
    access.require(Permissions::MANAGE_ROLES)?;
    let mut role = find(&access, role_id)?;
    if role.id != guild_id {
        access.require_above(role.position)?;
    }
    let mut errors = FieldErrors::new();
    apply(&access, &mut role, body, &mut errors)?;
    if !errors.is_empty() {
        return Err(ApiError::form(errors));
    }
    state.stores.guilds.update_role(guild_id, &role).await?;
    state
        .emit(DispatchEvent::GuildRoleUpdate(Box::new(GuildRoleEvent {
            guild_id,
            role: role.clone(),
        })))
        .await;
    Ok(ok(&role))
}

async fn delete_role(
    State(state): State<AppState>,
    auth: Auth,
    P((guild_id, role_id)): P<(Snowflake, Snowflake)>,
) -> ApiResult<Response> {
    let access = GuildAccess::load(&state, guild_id, auth.id()).await?;
    access.require(Permissions::MANAGE_ROLES)?;
    let role = find(&access, role_id)?;
    if role.id == guild_id {
        return Err(ApiError::field(
            "",
            "ROLE_EVERYONE",
            "The @everyone role cannot be deleted.",
        ));
    }
    access.require_above(role.position)?;
    state.stores.guilds.delete_role(guild_id, role_id).await?;
    state
        .emit(DispatchEvent::GuildRoleDelete(GuildRoleDelete {
            guild_id,
            role_id,
        }))
        .await;
    Ok(no_content())
}
