//! `POST /auth/register` and `POST /auth/login`: accounts with passwords
//! (not part of Discord's public API; fixed by this server).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use discord_proto::model::User;
use discord_proto::rest::FieldErrors;
use discord_store::StoreError;
use discord_store::guild::UserRecord;
use serde::{Deserialize, Serialize};

use super::json;
use crate::auth::{hash_password, new_token, token_hash, verify_password};
use crate::error::{ApiError, ApiResult, Body};
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/login", post(login))
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

#[derive(Serialize)]
struct TokenReply {
    token: String,
    user: User,
}

/// Discord's username rules: 2-32 characters, no `@ # :` or code fences,
/// and not the reserved names.
pub(crate) fn check_username(name: &str, errors: &mut FieldErrors, field: &str) {
    let len = name.chars().count();
    if !(2..=32).contains(&len) {
        errors.add(
            field,
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 2 and 32 in length.",
        );
    } else if name.contains(['@', '#', ':'])
        || name.contains("```")
        || name.trim() != name
        || ["everyone", "here", "discord"].contains(&name.to_lowercase().as_str())
    {
        errors.add(field, "USERNAME_INVALID", "Username is invalid.");
    }
}

async fn register(
    State(state): State<AppState>,
    Body(c): Body<Credentials>,
) -> ApiResult<Response> {
    let mut errors = FieldErrors::new();
    check_username(&c.username, &mut errors, "username");
    let plen = c.password.chars().count();
    if !(8..=128).contains(&plen) {
        errors.add(
            "password",
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 8 and 128 in length.",
        );
    }
    if !errors.is_empty() {
        return Err(ApiError::form(errors));
    }
    let user = crate::convert::new_user(state.next_id(), c.username.clone());
    let record = UserRecord {
        user: user.clone(),
        password_hash: Some(hash_password(c.password).await?),
    };
    match state.stores.guilds.create_user(&record).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::field(
                "username",
                "USERNAME_ALREADY_TAKEN",
                "Username is unavailable. Try adding numbers, letters, underscores _, or periods.",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let token = new_token(user.id);
    state
        .stores
        .guilds
        .add_token(&token_hash(&token), user.id)
        .await?;
    Ok(json(StatusCode::CREATED, &TokenReply { token, user }))
}

/// A valid argon2id hash of a random password, checked when the username
/// does not exist so both failures take as long.
const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Q0Ux7n3r0lyCZT2mfvZy7n4x8eyjVuxXaeEbmdf1xvA";

async fn login(State(state): State<AppState>, Body(c): Body<Credentials>) -> ApiResult<Response> {
    let record = state.stores.guilds.user_by_username(&c.username).await?;
    let (hash, record) = match record {
        Some(r) if r.password_hash.is_some() => {
            (r.password_hash.clone().unwrap_or_default(), Some(r))
        }
        _ => (DECOY_HASH.to_owned(), None),
    };
    let valid = verify_password(c.password, hash).await;
    let Some(record) = record.filter(|_| valid) else {
        let mut errors = FieldErrors::new();
        errors.add("login", "INVALID_LOGIN", "Login or password is invalid.");
        errors.add("password", "INVALID_LOGIN", "Login or password is invalid.");
        return Err(ApiError::form(errors));
    };
    let token = new_token(record.user.id);
    state
        .stores
        .guilds
        .add_token(&token_hash(&token), record.user.id)
        .await?;
    Ok(json(
        StatusCode::OK,
        &TokenReply {
            token,
            user: record.user,
        },
    ))
}
