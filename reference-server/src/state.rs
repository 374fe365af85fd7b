//! What every handler shares: the stores, the gateway node, the ID
//! generator, rate limits and metrics.

use std::ops::Deref;
use std::sync::Arc;

use discord_gateway::{Event, Gateway};
use discord_proto::Snowflake;
use discord_proto::gateway::DispatchEvent;
use discord_snowflake::Generator;
use discord_store::{BusEvent, Stores};

use crate::config::Config;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;

/// Shared server state; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The shared parts.
pub struct Inner {
    /// Every store.
    pub stores: Stores,
    /// This node's gateway.
    pub gateway: Gateway,
    /// Voice states, voice signaling and the SFU (in-process).
    pub voice: discord_voice::Voice,
    /// Snowflake IDs for everything created here.
    pub ids: Generator,
    /// The base URL clients reach this server at (no trailing slash).
    pub public_url: String,
    /// The gateway URL `GET /gateway` returns.
    pub gateway_url: String,
    /// REST rate limits.
    pub limiter: RateLimiter,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// The settings.
    pub config: Config,
    /// Slowmode: when each (channel, user) last sent a message (this node).
    pub slowmode: crate::slowmode::Slowmode,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Wraps the parts.
    pub fn new(inner: Inner) -> Self {
        AppState(Arc::new(inner))
    }

    /// A new snowflake.
    pub fn next_id(&self) -> Snowflake {
        self.ids.next_id()
    }

    /// Sends a dispatch event to the sessions that may see it. A failure is
    /// logged: the change it reports is already stored, and clients catch up
    /// from REST.
    pub async fn emit(&self, event: DispatchEvent) {
        self.emit_to(event, &[]).await;
    }

    /// Sends a dispatch event to these users' sessions (or the guild's when
    /// `users` is empty).
    pub async fn emit_to(&self, event: DispatchEvent, users: &[Snowflake]) {
        let name = event.name().to_owned();
        let built = match Event::new(&event) {
            Ok(e) if users.is_empty() => e,
            Ok(e) => e.to_users(users.iter().copied()),
            Err(e) => {
                tracing::error!(%name, "cannot encode event: {e}");
                return;
            }
        };
        if built.topics().is_empty() {
            return;
        }
        self.metrics.events.inc();
        if let Err(e) = self.gateway.publish(&built).await {
            tracing::warn!(%name, "event publish failed: {e}");
        }
    }

    /// Appends a message event to the durable event bus (Kafka in cluster
    /// mode), keyed by channel.
    pub async fn bus(&self, channel_id: Snowflake, event: &DispatchEvent) {
        let payload = match serde_json::to_vec(event) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("cannot encode bus event: {e}");
                return;
            }
        };
        let bus_event = BusEvent {
            channel_id,
            kind: event.name().to_owned(),
            payload: payload.into(),
        };
        if let Err(e) = self.stores.events.publish(&bus_event).await {
            tracing::error!(%channel_id, kind = %bus_event.kind, "event bus publish failed: {e}");
        }
    }
}
