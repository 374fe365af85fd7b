//! A rate limiter that follows the server's buckets so callers never see a
//! 429 they did not cause.
//!
//! Requests are keyed by route (method, path template and major parameter).
//! Requests of one route go one at a time; after each answer the route's
//! bucket state comes from `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset-After`, and when nothing remains the next request
//! waits for the reset. A 429 (which only a server-side change or another
//! client sharing the token causes) is waited out for `retry_after` and
//! retried; a global 429 pauses every route.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::time::Instant;

/// The limiter's state for one route.
#[derive(Debug, Default)]
struct Bucket {
    /// Requests left in the current window, if known.
    remaining: Option<u32>,
    /// When the window resets, if known.
    reset_at: Option<Instant>,
}

/// Route buckets and the global pause.
#[derive(Debug, Default)]
pub struct RateLimiter {
    routes: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Bucket>>>>,
    global_until: Mutex<Option<Instant>>,
}

/// Held while a request of one route is in flight.
pub struct Permit {
    bucket: tokio::sync::OwnedMutexGuard<Bucket>,
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
    }
}

fn header_f64(headers: &HeaderMap, name: &str) -> Option<f64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

impl RateLimiter {
    /// Waits until a request on `route` may go: one at a time per route,
    /// after the route's reset when its bucket is spent, and after any
    /// global pause.
    pub async fn acquire(&self, route: &str) -> Permit {
        let bucket = {
            let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(routes.entry(route.to_owned()).or_default())
        };
        let mut bucket = bucket.lock_owned().await;
        if bucket.remaining == Some(0)
            && let Some(at) = bucket.reset_at
        {
            tokio::time::sleep_until(at).await;
            bucket.remaining = None;
        }
        self.wait_global().await;
        Permit { bucket }
    }

    async fn wait_global(&self) {
        let until = *self.global_until.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = until {
            tokio::time::sleep_until(at).await;
        }
    }

    /// Records a response's rate-limit headers. For a 429, returns how long
    /// to wait before retrying (and pauses every route if it was global).
    pub fn update(
        &self,
        permit: &mut Permit,
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Option<Duration> {
        let now = Instant::now();
        if let Some(left) = header_f64(headers, "x-ratelimit-remaining") {
            permit.bucket.remaining = Some(left.max(0.0) as u32);
        }
        if let Some(after) = header_f64(headers, "x-ratelimit-reset-after") {
            permit.bucket.reset_at = Some(now + Duration::from_secs_f64(after.max(0.0)));
        }
        if status != 429 {
            return None;
        }
        #[derive(serde::Deserialize)]
        struct Limited {
            retry_after: f64,
            #[serde(default)]
            global: bool,
        }
        let (retry, global) = match serde_json::from_slice::<Limited>(body) {
            Ok(l) => (l.retry_after, l.global),
            Err(_) => (
                header_f64(headers, "retry-after").unwrap_or(1.0),
                headers.contains_key("x-ratelimit-global"),
            ),
        };
        let wait = Duration::from_secs_f64(retry.clamp(0.0, 3600.0));
        if global {
            *self.global_until.lock().unwrap_or_else(|e| e.into_inner()) = Some(now + wait);
        } else {
            permit.bucket.remaining = Some(0);
            permit.bucket.reset_at = Some(now + wait);
        }
        Some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[tokio::test(start_paused = true)]
    async fn a_spent_bucket_waits_for_its_reset() {
        let limiter = RateLimiter::default();
        let mut permit = limiter.acquire("POST /channels/1/messages").await;
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert("x-ratelimit-reset-after", HeaderValue::from_static("2.5"));
        assert_eq!(limiter.update(&mut permit, 200, &h, b""), None);
        drop(permit);
        let start = Instant::now();
        let _other_route = limiter.acquire("GET /users/@me").await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        let _again = limiter.acquire("POST /channels/1/messages").await;
        assert_eq!(start.elapsed(), Duration::from_millis(2500));
    }

    #[tokio::test(start_paused = true)]
    async fn a_global_429_pauses_every_route() {
        let limiter = RateLimiter::default();
        let mut permit = limiter.acquire("a").await;
        let wait = limiter.update(
            &mut permit,
            429,
            &HeaderMap::new(),
            br#"{"message":"x","retry_after":1.5,"global":true}"#,
        );
        assert_eq!(wait, Some(Duration::from_millis(1500)));
        drop(permit);
        let start = Instant::now();
        let _b = limiter.acquire("b").await;
        assert_eq!(start.elapsed(), Duration::from_millis(1500));
    }
}
