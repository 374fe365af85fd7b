//! The REST client: one base URL, the bot's token, and a rate limiter
//! that follows the server's buckets.

pub mod bodies;
mod ratelimit;
mod requests;
mod routes;

use std::sync::Arc;

use discord_proto::rest::ErrorBody;
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use ratelimit::RateLimiter;
pub use requests::{CreateMessage, MessagesQuery};

use crate::error::{ClientError, Result};

/// Discord's own API base URL, the default.
pub const DISCORD_API: &str = "https://discord.com/api/v10";

/// How many times a request answered 429 is retried after waiting.
const MAX_RETRIES: u32 = 5;

/// A REST client. Cheap to clone; clones share the rate limiter.
#[derive(Clone, Debug)]
pub struct RestClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    base: String,
    authorization: Option<String>,
    limiter: RateLimiter,
}

/// Builds a [`RestClient`].
#[derive(Debug, Default)]
pub struct RestClientBuilder {
    base: Option<String>,
    authorization: Option<String>,
    http: Option<reqwest::Client>,
}

impl RestClientBuilder {
    /// The API base URL, e.g. `http://127.0.0.1:8080/api/v10` for a local
    /// reference server (default: [`DISCORD_API`]).
    pub fn base_url(mut self, base: impl Into<String>) -> Self {
        self.base = Some(base.into().trim_end_matches('/').to_owned());
        self
    }

    /// Authenticate as a bot (`Authorization: Bot <token>`).
    pub fn bot_token(mut self, token: impl AsRef<str>) -> Self {
        let token = token.as_ref();
        let token = token.strip_prefix("Bot ").unwrap_or(token);
        self.authorization = Some(format!("Bot {token}"));
        self
    }

    /// Authenticate as a user account (`Authorization: <token>`).
    pub fn user_token(mut self, token: impl Into<String>) -> Self {
        self.authorization = Some(token.into());
        self
    }

    /// Use this HTTP client (for proxies, timeouts, TLS settings).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// The client.
    pub fn build(self) -> RestClient {
        RestClient {
            inner: Arc::new(Inner {
                http: self.http.unwrap_or_default(),
                base: self.base.unwrap_or_else(|| DISCORD_API.to_owned()),
                authorization: self.authorization,
                limiter: RateLimiter::default(),
            }),
        }
    }
}

/// The rate-limit key of a request: the method and path with IDs replaced
/// except the major parameter (the channel, guild or webhook), which
/// Discord limits separately.
pub fn route_key(method: &Method, path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    let mut out = String::with_capacity(path.len() + 8);
    out.push_str(method.as_str());
    out.push(' ');
    let mut previous = "";
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        let is_id = segment.bytes().all(|b| b.is_ascii_digit());
        let major = matches!(previous, "channels" | "guilds" | "webhooks");
        if previous == "reactions" {
            out.push_str(":emoji");
        } else if is_id && !major {
            out.push_str(":id");
        } else {
            out.push_str(segment);
        }
        previous = segment;
    }
    out
}

impl RestClient {
    /// A builder.
    pub fn builder() -> RestClientBuilder {
        RestClientBuilder::default()
    }

    /// A bot client against `base` (see [`RestClientBuilder::base_url`]).
    pub fn bot(base: impl Into<String>, token: impl AsRef<str>) -> Self {
        Self::builder().base_url(base).bot_token(token).build()
    }

    /// The API base URL.
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// The `Authorization` value it sends (`Bot <token>` or a user
    /// token), which is also what IDENTIFY takes.
    pub fn authorization(&self) -> Option<&str> {
        self.inner.authorization.as_deref()
    }

    /// Sends a request and decodes the JSON answer; waits out rate limits
    /// as the server's headers say. `path` is relative to the base URL,
    /// e.g. `/channels/1/messages?limit=5`.
    pub async fn request<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T> {
        let (status, bytes) = self.send(method, path, body).await?;
        let bytes = if bytes.is_empty() {
            &b"null"[..]
        } else {
            &bytes[..]
        };
        serde_json::from_slice(bytes).map_err(|source| ClientError::Decode { status, source })
    }

    /// [`RestClient::request`] for routes that answer 204 No Content.
    pub async fn request_empty(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<()> {
        self.send(method, path, body).await.map(|_| ())
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<(u16, Vec<u8>)> {
        let inner = &self.inner;
        let key = route_key(&method, path);
        let url = format!("{}{path}", inner.base);
        let mut retries = 0;
        loop {
            let mut permit = inner.limiter.acquire(&key).await;
            let mut req = inner.http.request(method.clone(), &url);
            if let Some(auth) = &inner.authorization {
                req = req.header(reqwest::header::AUTHORIZATION, auth);
            }
            if let Some(body) = body {
                req = req.json(body);
            }
            let res = req.send().await?;
            let status = res.status().as_u16();
            let headers = res.headers().clone();
            let bytes = res.bytes().await?.to_vec();
            let wait = inner.limiter.update(&mut permit, status, &headers, &bytes);
            drop(permit);
            if let Some(wait) = wait {
                retries += 1;
                if retries > MAX_RETRIES {
                    return Err(ClientError::RateLimited(MAX_RETRIES));
                }
                tracing::debug!(route = %key, ?wait, "rate limited; waiting to retry");
                tokio::time::sleep(wait).await;
                continue;
            }
            if (200..300).contains(&status) {
                return Ok((status, bytes));
            }
            return Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(body) => ClientError::Api { status, body },
                Err(source) => ClientError::Decode { status, source },
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_keys_keep_the_major_parameter() {
        assert_eq!(
            route_key(&Method::POST, "/channels/123/messages"),
            "POST /channels/123/messages"
        );
        assert_eq!(
            route_key(&Method::PATCH, "/channels/123/messages/456?x=1"),
            "PATCH /channels/123/messages/:id"
        );
        assert_eq!(
            route_key(
                &Method::PUT,
                "/channels/1/messages/2/reactions/%F0%9F%91%8D/@me"
            ),
            "PUT /channels/1/messages/:id/reactions/:emoji/@me"
        );
        assert_eq!(route_key(&Method::GET, "/users/42"), "GET /users/:id");
        assert_eq!(
            route_key(&Method::GET, "/guilds/9/members/42"),
            "GET /guilds/9/members/:id"
        );
    }
}
