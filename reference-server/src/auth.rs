//! Accounts and tokens: argon2id password hashes, unguessable tokens stored
//! only as SHA-256 digests, and the `Authorization` header extractor.
//!
//! A token is `<user id, base64url>.<32 random bytes, base64url>`. The store
//! keeps the SHA-256 of the whole token and looks tokens up by that digest,
//! so the secret is never stored and never compared byte by byte (timing
//! reveals at most a prefix of a digest, which says nothing about any
//! token); the user-ID part is then checked against the row in constant
//! time.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use discord_proto::Snowflake;
use discord_proto::gateway::Intents;
use discord_proto::model::User;
use discord_store::{GuildStore, StoreError};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

/// Application flags: the three privileged intents allowed ("limited", as
/// Discord grants to bots in fewer than 100 guilds).
pub const APP_FLAGS_PRIVILEGED: u64 = (1 << 13) | (1 << 15) | (1 << 19);
const GATEWAY_PRESENCE: u64 = (1 << 12) | (1 << 13);
const GATEWAY_GUILD_MEMBERS: u64 = (1 << 14) | (1 << 15);
const GATEWAY_MESSAGE_CONTENT: u64 = (1 << 18) | (1 << 19);

/// The privileged intents an application's flags allow.
pub fn allowed_intents(flags: u64) -> Intents {
    let mut i = Intents::empty();
    if flags & GATEWAY_PRESENCE != 0 {
        i |= Intents::GUILD_PRESENCES;
    }
    if flags & GATEWAY_GUILD_MEMBERS != 0 {
        i |= Intents::GUILD_MEMBERS;
    }
    if flags & GATEWAY_MESSAGE_CONTENT != 0 {
        i |= Intents::MESSAGE_CONTENT;
    }
    i
}

/// A fresh token for `user_id`.
pub fn new_token(user_id: Snowflake) -> String {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(user_id.get().to_string()),
        URL_SAFE_NO_PAD.encode(secret)
    )
}

/// The digest a token is stored and looked up by.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The user ID a token claims (its first part).
fn claimed_user(token: &str) -> Option<u64> {
    let (id, secret) = token.split_once('.')?;
    if secret.len() != 43 {
        return None;
    }
    let id = URL_SAFE_NO_PAD.decode(id).ok()?;
    std::str::from_utf8(&id).ok()?.parse().ok()
}

fn ct_eq(a: u64, b: u64) -> bool {
    // Fold the difference without early exit.
    let x = a ^ b;
    (x | x.wrapping_neg()) >> 63 == 0
}

/// Hashes a password with argon2id (on a blocking thread: it is meant to be
/// slow).
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r)
    .map_err(|e| {
        tracing::error!("password hashing failed: {e}");
        ApiError::from(discord_store::StoreError::Backend(e.into()))
    })
}

/// Checks a password against a stored hash.
pub async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

/// How a request authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// `Authorization: Bot <token>`.
    Bot,
    /// `Authorization: <token>`.
    User,
}

/// Splits an `Authorization` value (or an IDENTIFY token) into its kind
/// and token.
pub fn parse_authorization(value: &str) -> Option<(TokenKind, &str)> {
    let value = value.trim();
    if let Some(t) = value.strip_prefix("Bot ") {
        Some((TokenKind::Bot, t.trim()))
    } else if value.starts_with("Bearer ") || value.is_empty() {
        None
    } else {
        Some((TokenKind::User, value))
    }
}

/// The user a token belongs to, if the token is valid for its kind.
pub async fn authenticate(state: &AppState, value: &str) -> Result<Option<User>, ApiError> {
    Ok(authenticate_in(state.stores.guilds.as_ref(), value, true).await?)
}

/// [`authenticate`] against a guild store. With `strict_prefix` (REST), a
/// bot token needs `Bot ` and a user token must not have it; IDENTIFY
/// accepts a bot token with or without the prefix, as Discord does
/// (discord.py sends it bare).
pub async fn authenticate_in(
    guilds: &dyn GuildStore,
    value: &str,
    strict_prefix: bool,
) -> Result<Option<User>, StoreError> {
    let Some((kind, token)) = parse_authorization(value) else {
        return Ok(None);
    };
    let Some(claimed) = claimed_user(token) else {
        return Ok(None);
    };
    let Some(owner) = guilds.user_by_token(&token_hash(token)).await? else {
        return Ok(None);
    };
    if !ct_eq(owner.get(), claimed) {
        return Ok(None);
    }
    let Some(user) = guilds.user(owner).await? else {
        return Ok(None);
    };
    let prefix_ok = user.bot == (kind == TokenKind::Bot);
    Ok((prefix_ok || (!strict_prefix && user.bot)).then_some(user))
}

/// The authenticated user of a request.
#[derive(Clone, Debug)]
pub struct Auth {
    /// Who is asking.
    pub user: User,
}

impl Auth {
    /// The user's ID.
    pub fn id(&self) -> Snowflake {
        self.user.id
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let value = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(ApiError::unauthorized)?;
        match authenticate(state, value).await? {
            Some(user) => Ok(Auth { user }),
            None => Err(ApiError::unauthorized()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_their_user_and_are_unique() {
        let a = new_token(Snowflake::new(42));
        let b = new_token(Snowflake::new(42));
        assert_ne!(a, b);
        assert_eq!(claimed_user(&a), Some(42));
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), token_hash(&b));
        assert_eq!(claimed_user("bm9wZQ.short"), None);
        assert_eq!(claimed_user("garbage"), None);
    }

    #[test]
    fn authorization_values() {
        assert_eq!(
            parse_authorization("Bot abc"),
            Some((TokenKind::Bot, "abc"))
        );
        assert_eq!(parse_authorization("abc"), Some((TokenKind::User, "abc")));
        assert_eq!(parse_authorization("Bearer abc"), None);
        assert_eq!(parse_authorization("  "), None);
        assert!(ct_eq(5, 5) && !ct_eq(5, 6) && !ct_eq(0, u64::MAX));
    }

    #[test]
    fn application_flags_map_to_intents() {
        assert_eq!(allowed_intents(APP_FLAGS_PRIVILEGED), Intents::PRIVILEGED);
        assert_eq!(allowed_intents(1 << 18), Intents::MESSAGE_CONTENT);
        assert_eq!(allowed_intents(0), Intents::empty());
    }

    #[tokio::test]
    async fn passwords_verify_only_with_the_right_password() {
        let hash = hash_password("hunter22".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("hunter22".into(), hash.clone()).await);
        assert!(!verify_password("hunter23".into(), hash).await);
    }
}
