//! REST rate limits as Discord applies them: a global limit per token, and
//! per-route buckets split by the route's major parameter (channel or
//! guild), answered with Discord's `X-RateLimit-*` headers and, when
//! exceeded, 429 with `{message, retry_after, global}`.
//!
//! Limits are fixed windows kept in this node's memory; in a cluster each
//! node limits the traffic it serves.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use discord_proto::rest::{RateLimited, headers};

use crate::auth::token_hash;
use crate::config::RateLimitConfig;
use crate::state::AppState;

#[derive(Clone, Copy, Debug)]
struct Window {
    start: Instant,
    used: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    who: String,
    bucket: u64,
    major: String,
}

/// The limiter's state.
#[derive(Debug)]
pub struct RateLimiter {
    config: RateLimitConfig,
    global: Mutex<HashMap<String, Window>>,
    routes: Mutex<HashMap<Key, Window>>,
}

/// The outcome of taking one request from a bucket.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Taken {
    /// The bucket's size.
    pub limit: u32,
    /// What is left after this request.
    pub remaining: u32,
    /// Time until the bucket refills.
    pub reset_after: Duration,
    /// Whether this request is over the limit.
    pub limited: bool,
}

fn take<K: Eq + std::hash::Hash>(
    map: &mut HashMap<K, Window>,
    key: K,
    limit: u32,
    window: Duration,
    now: Instant,
) -> Taken {
    if map.len() > 50_000 {
        map.retain(|_, w| now.duration_since(w.start) < window * 4);
    }
    let w = map.entry(key).or_insert(Window {
        start: now,
        used: 0,
    });
    if now.duration_since(w.start) >= window {
        *w = Window {
            start: now,
            used: 0,
        };
    }
    let reset_after = window.saturating_sub(now.duration_since(w.start));
    if w.used >= limit {
        return Taken {
            limit,
            remaining: 0,
            reset_after,
            limited: true,
        };
    }
    w.used += 1;
    Taken {
        limit,
        remaining: limit - w.used,
        reset_after,
        limited: false,
    }
}

impl RateLimiter {
    /// A limiter with these limits.
    pub fn new(config: RateLimitConfig) -> Self {
        RateLimiter {
            config,
            global: Mutex::new(HashMap::new()),
            routes: Mutex::new(HashMap::new()),
        }
    }

    fn global(&self, who: &str, now: Instant) -> Taken {
        let mut map = self.global.lock().unwrap_or_else(|e| e.into_inner());
        take(
            &mut *map,
            who.to_owned(),
            self.config.global_per_second,
            Duration::from_secs(1),
            now,
        )
    }

    fn route(&self, key: Key, limit: u32, window: Duration, now: Instant) -> Taken {
        let mut map = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        take(&mut *map, key, limit, window, now)
    }
}

/// A stable hash of a route (FNV-1a), shown as `X-RateLimit-Bucket`.
fn bucket_of(method: &Method, template: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in method
        .as_str()
        .bytes()
        .chain([b' '])
        .chain(template.bytes())
    {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).ceil() / 1000.0
}

fn set(headers: &mut HeaderMap, name: &'static str, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.insert(name, v);
    }
}

fn too_many(taken: Taken, global: bool, scope: &str, bucket: Option<u64>) -> Response {
    let retry = secs(taken.reset_after).max(0.001);
    let body = RateLimited {
        message: "You are being rate limited.".to_owned(),
        retry_after: retry,
        global,
        code: None,
    };
    let mut res = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    let h = res.headers_mut();
    set(h, "Retry-After", format!("{}", retry.ceil() as u64));
    set(h, headers::SCOPE, scope.to_owned());
    if global {
        set(h, headers::GLOBAL, "true".to_owned());
    }
    if let Some(bucket) = bucket {
        write_headers(h, taken, bucket);
    }
    res
}

fn write_headers(h: &mut HeaderMap, taken: Taken, bucket: u64) {
    let reset_at = SystemTime::now()
        .checked_add(taken.reset_after)
        .unwrap_or_else(SystemTime::now)
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    set(h, headers::LIMIT, taken.limit.to_string());
    set(h, headers::REMAINING, taken.remaining.to_string());
    set(h, headers::RESET, format!("{:.3}", reset_at.as_secs_f64()));
    set(
        h,
        headers::RESET_AFTER,
        format!("{:.3}", secs(taken.reset_after)),
    );
    set(h, headers::BUCKET, format!("{bucket:016x}"));
}

/// The middleware: counts the request against the caller's global limit
/// and the route's bucket, answers 429 when either is spent, and adds the
/// bucket's headers to every response.
pub async fn middleware(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    req: Request,
    next: Next,
) -> Response {
    let limiter = &state.limiter;
    if !limiter.config.enabled {
        return next.run(req).await;
    }
    let now = Instant::now();
    let who = match req.headers().get(axum::http::header::AUTHORIZATION) {
        Some(v) => token_hash(v.to_str().unwrap_or_default()),
        None => req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_default(),
    };
    let global = limiter.global(&who, now);
    if global.limited {
        state.metrics.rate_limited.inc();
        return too_many(global, true, "global", None);
    }
    let template = matched.as_ref().map_or("", |m| m.as_str());
    let template = template
        .strip_prefix("/api/v10")
        .or_else(|| template.strip_prefix("/api/v9"))
        .unwrap_or(template);
    let (mut parts, body) = req.into_parts();
    let major = RawPathParams::from_request_parts(&mut parts, &state)
        .await
        .ok()
        .and_then(|p| {
            p.iter()
                .find(|(k, _)| matches!(*k, "channel_id" | "guild_id" | "webhook_id"))
                .map(|(_, v)| v.to_owned())
        })
        .unwrap_or_default();
    let req = Request::from_parts(parts, body);
    let method = req.method().clone();
    let (limit, window) = if method == Method::POST && template == "/channels/{channel_id}/messages"
    {
        (
            limiter.config.message_limit,
            limiter.config.message_window_secs,
        )
    } else {
        (limiter.config.route_limit, limiter.config.window_secs)
    };
    let bucket = bucket_of(&method, template);
    let key = Key { who, bucket, major };
    let taken = limiter.route(key, limit, Duration::from_secs_f64(window), now);
    if taken.limited {
        state.metrics.rate_limited.inc();
        return too_many(taken, false, "user", Some(bucket));
    }
    let mut res = next.run(req).await;
    write_headers(res.headers_mut(), taken, bucket);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_refill_and_buckets_are_separate() {
        let mut map = HashMap::new();
        let t0 = Instant::now();
        let w = Duration::from_secs(5);
        for left in (0..3).rev() {
            let t = take(&mut map, "a", 3, w, t0);
            assert_eq!((t.remaining, t.limited), (left, false));
        }
        let t = take(&mut map, "a", 3, w, t0 + Duration::from_secs(1));
        assert!(t.limited);
        assert_eq!(t.reset_after, Duration::from_secs(4));
        assert!(!take(&mut map, "b", 3, w, t0).limited);
        let t = take(&mut map, "a", 3, w, t0 + w);
        assert_eq!((t.remaining, t.limited), (2, false));
        assert_ne!(
            bucket_of(&Method::GET, "/channels/{channel_id}"),
            bucket_of(&Method::PATCH, "/channels/{channel_id}")
        );
    }
}
