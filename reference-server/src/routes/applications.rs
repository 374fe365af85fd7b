//! Bot applications: create one with its bot user, reset the bot's token,
//! read it back (`/applications/@me` is what bot libraries ask for).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use discord_proto::Snowflake;
use discord_proto::rest::{FieldErrors, JsonErrorCode};
use discord_store::guild::ApplicationRecord;
use serde::Deserialize;
use serde_json::{Value, json as j};

use super::{P, json, ok};
use crate::auth::{APP_FLAGS_PRIVILEGED, Auth, new_token, token_hash};
use crate::error::{ApiError, ApiResult, Body};
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/applications", post(create))
        .route("/applications/@me", get(me))
        .route("/oauth2/applications/@me", get(me))
        .route("/applications/{application_id}", get(get_one))
        .route("/applications/{application_id}/bot/reset", post(reset))
}

#[derive(Deserialize)]
struct CreateApp {
    name: String,
    #[serde(default)]
    description: Option<String>,
}

async fn view(state: &AppState, app: &ApplicationRecord) -> ApiResult<Value> {
    let owner = state.stores.guilds.user(app.owner_id).await?;
    let bot = state.stores.guilds.user(app.bot_user_id).await?;
    Ok(j!({
        "id": app.id,
        "name": app.name,
        "icon": null,
        "description": app.description,
        "bot_public": true,
        "bot_require_code_grant": false,
        "verify_key": "",
        "flags": app.flags,
        "owner": owner,
        "bot": bot,
        "team": null,
    }))
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    Body(req): Body<CreateApp>,
) -> ApiResult<Response> {
    if auth.user.bot {
        return Err(ApiError::missing_access());
    }
    let mut errors = FieldErrors::new();
    let name = req.name.trim().to_owned();
    super::accounts::check_username(&name, &mut errors, "name");
    if !errors.is_empty() {
        return Err(ApiError::form(errors));
    }
    let id = state.next_id();
    let mut bot = crate::convert::new_user(id, name.clone());
    bot.bot = true;
    let app = ApplicationRecord {
        id,
        name,
        description: req.description.unwrap_or_default(),
        owner_id: auth.id(),
        bot_user_id: id,
        flags: APP_FLAGS_PRIVILEGED,
    };
    state.stores.guilds.create_application(&app, &bot).await?;
    Ok(json(StatusCode::CREATED, &view(&state, &app).await?))
}

async fn owned(state: &AppState, auth: &Auth, id: Snowflake) -> ApiResult<ApplicationRecord> {
    match state.stores.guilds.application(id).await? {
        Some(app) if app.owner_id == auth.id() || app.bot_user_id == auth.id() => Ok(app),
        _ => Err(ApiError::unknown(JsonErrorCode::UNKNOWN_APPLICATION)),
    }
}

async fn get_one(
    State(state): State<AppState>,
    auth: Auth,
    P(id): P<Snowflake>,
) -> ApiResult<Response> {
    let app = owned(&state, &auth, id).await?;
    Ok(ok(&view(&state, &app).await?))
}

async fn me(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    match state.stores.guilds.application_by_bot(auth.id()).await? {
        Some(app) => Ok(ok(&view(&state, &app).await?)),
        None => Err(ApiError::unknown(JsonErrorCode::UNKNOWN_APPLICATION)),
    }
}

async fn reset(
    State(state): State<AppState>,
    auth: Auth,
    P(id): P<Snowflake>,
) -> ApiResult<Response> {
    let app = owned(&state, &auth, id).await?;
    if app.owner_id != auth.id() {
        return Err(ApiError::missing_access());
    }
    state.stores.guilds.revoke_tokens(app.bot_user_id).await?;
    let token = new_token(app.bot_user_id);
    state
        .stores
        .guilds
        .add_token(&token_hash(&token), app.bot_user_id)
        .await?;
    Ok(ok(&j!({ "token": token })))
}
