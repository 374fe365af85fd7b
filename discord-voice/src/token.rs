//! Voice tokens: what VOICE_SERVER_UPDATE hands a user, signed with
//! HMAC-SHA256 under a secret every node of a cluster shares, so that the
//! SFU node a channel lives on can check a token another node issued
//! without asking it. A token says who may join which channel from which
//! gateway session, until when; the node also checks that the user's voice
//! state still says so, which is how leaving or moving revokes a token.
//!
//! The form is `<payload>.<mac>`, both base64url without padding, the
//! payload being `guild:channel:user:expires_ms:session`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use discord_proto::Snowflake;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The cluster's token secret. Its `Debug` does not show it.
#[derive(Clone)]
pub struct TokenKey(Vec<u8>);

impl TokenKey {
    /// A key from a shared secret (every node of a cluster must use the
    /// same one; 32 random bytes or more).
    pub fn new(secret: impl Into<Vec<u8>>) -> TokenKey {
        TokenKey(secret.into())
    }

    /// A random key, for a single node.
    pub fn random() -> TokenKey {
        TokenKey(rand::random::<[u8; 32]>().to_vec())
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length.
        HmacSha256::new_from_slice(&self.0).expect("HMAC accepts any key length")
    }

    /// Signs a grant.
    pub fn sign(&self, grant: &Grant) -> String {
        let payload = format!(
            "{}:{}:{}:{}:{}",
            grant.guild_id, grant.channel_id, grant.user_id, grant.expires_ms, grant.session_id
        );
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let tag = mac.finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// The grant a token carries if this key signed it, expired or not
    /// (see [`Grant::expired`]).
    pub fn verify(&self, token: &str) -> Option<Grant> {
        let (payload, tag) = token.split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let mut mac = self.mac();
        mac.update(&payload);
        // Constant-time comparison.
        mac.verify_slice(&tag).ok()?;
        let payload = String::from_utf8(payload).ok()?;
        let mut parts = payload.splitn(5, ':');
        Some(Grant {
            guild_id: parts.next()?.parse().ok()?,
            channel_id: parts.next()?.parse().ok()?,
            user_id: parts.next()?.parse().ok()?,
            expires_ms: parts.next()?.parse().ok()?,
            session_id: parts.next()?.to_owned(),
        })
    }
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

/// What a voice token entitles its holder to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The guild.
    pub guild_id: Snowflake,
    /// The channel.
    pub channel_id: Snowflake,
    /// The user.
    pub user_id: Snowflake,
    /// The gateway session that joined.
    pub session_id: String,
    /// Until when (Unix milliseconds) IDENTIFY may use it.
    pub expires_ms: u64,
}

impl Grant {
    /// A grant good for `ttl` from now.
    pub fn new(
        guild_id: Snowflake,
        channel_id: Snowflake,
        user_id: Snowflake,
        session_id: impl Into<String>,
        ttl: Duration,
    ) -> Grant {
        Grant {
            guild_id,
            channel_id,
            user_id,
            session_id: session_id.into(),
            expires_ms: now_ms().saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)),
        }
    }

    /// Whether IDENTIFY may no longer use it (RESUME still may, while the
    /// participant it started is there).
    pub fn expired(&self) -> bool {
        now_ms() > self.expires_ms
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(ttl: Duration) -> Grant {
        Grant::new(
            Snowflake::new(1),
            Snowflake::new(2),
            Snowflake::new(3),
            "sess:with:colons",
            ttl,
        )
    }

    #[test]
    fn a_signed_grant_round_trips() {
        let key = TokenKey::random();
        let g = grant(Duration::from_secs(60));
        let token = key.sign(&g);
        assert_eq!(key.verify(&token), Some(g.clone()));
        assert!(!g.expired());
        assert!(grant(Duration::ZERO).expires_ms <= now_ms());
    }

    #[test]
    fn another_key_or_a_changed_token_is_refused() {
        let key = TokenKey::new(b"one secret".to_vec());
        let token = key.sign(&grant(Duration::from_secs(60)));
        assert_eq!(TokenKey::new(b"another".to_vec()).verify(&token), None);
        // Swap the payload for another grant's, keeping the tag.
        let other = key.sign(&Grant {
            channel_id: Snowflake::new(99),
            ..grant(Duration::from_secs(60))
        });
        let forged = format!(
            "{}.{}",
            other.split_once('.').unwrap().0,
            token.split_once('.').unwrap().1
        );
        assert_eq!(key.verify(&forged), None);
        for junk in ["", ".", "abc", "a.b", &token[1..]] {
            assert_eq!(key.verify(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn expiry_is_in_the_grant() {
        let key = TokenKey::random();
        let mut g = grant(Duration::from_secs(60));
        g.expires_ms = now_ms() - 1;
        let back = key.verify(&key.sign(&g)).unwrap();
        assert!(back.expired());
    }

    #[test]
    fn debug_hides_the_secret() {
        assert_eq!(
            format!("{:?}", TokenKey::new(b"hunter2".to_vec())),
            "TokenKey(..)"
        );
    }
}
