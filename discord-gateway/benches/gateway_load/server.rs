//! The gateway node under load: embedded mode (in-memory sessions,
//! presence and pub/sub), or cluster mode's stores on Redis with
//! `LOAD_REDIS=redis://...`, with a `/publish` route the tool posts to and
//! a `/timing` route for the server's share of latency and a `/writes`
//! route for its fanout writers' socket writes.

use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::State;
use axum::routing::post;
use discord_gateway::{
    AuthError, Event, Gateway, GatewayConfig, GatewayData, GatewayStores, Identity, MemberQuery,
};
use discord_proto::Snowflake;
use discord_proto::gateway::{GatewayGuild, Intents};
use discord_proto::model::{Member, User};
use discord_store::backend::memory::{MemoryPresence, MemoryPubSub, MemorySessions};
use discord_store::backend::redis::RedisStore;
use serde_json::json;

use crate::{CHANNEL, GUILD, now_nanos};

/// Every `token-N` is user N, a member of guild 100 with one open channel.
struct LoadData;

fn user(n: u64) -> User {
    serde_json::from_value(json!({"id": n.to_string(), "username": format!("u{n}"), "discriminator": "0", "avatar": null})).unwrap()
}

#[async_trait]
impl GatewayData for LoadData {
    async fn authenticate(&self, token: &str) -> Result<Identity, AuthError> {
        let n = token
            .strip_prefix("token-")
            .and_then(|n| n.parse().ok())
            .ok_or(AuthError::InvalidToken)?;
        Ok(Identity {
            user: user(n),
            application: None,
            allowed_privileged: Intents::PRIVILEGED,
        })
    }

    async fn guilds(&self, user_id: Snowflake) -> Result<Vec<GatewayGuild>, String> {
        let g = serde_json::from_value(json!({
            "id": GUILD.to_string(), "name": "load", "owner_id": "1",
            "roles": [{"id": GUILD.to_string(), "name": "@everyone", "permissions": "3072",
                       "position": 0, "color": 0, "hoist": false, "managed": false, "mentionable": false}],
            "channels": [{"id": CHANNEL.to_string(), "type": 0, "guild_id": GUILD.to_string(), "name": "busy"}],
            "members": [{"user": {"id": user_id.to_string(), "username": "u", "discriminator": "0", "avatar": null},
                         "roles": [], "joined_at": "2026-01-01T00:00:00+00:00", "deaf": false, "mute": false}],
            "member_count": 1
        }))
        .map_err(|e| e.to_string())?;
        Ok(vec![g])
    }

    async fn guild_ids(&self, _: Snowflake) -> Result<Vec<Snowflake>, String> {
        Ok(vec![Snowflake::new(GUILD)])
    }

    async fn members(
        &self,
        _: Snowflake,
        _: &MemberQuery,
        _: usize,
    ) -> Result<Vec<Member>, String> {
        Ok(Vec::new())
    }
}

#[derive(serde::Deserialize)]
struct Publish {
    count: u64,
    /// Client clock (ns since the epoch) when the POST was sent.
    sent: String,
}

async fn publish(State(gw): State<Gateway>, body: String) -> &'static str {
    let p: Publish = serde_json::from_str(&body).expect("publish body");
    for i in 0..p.count {
        let event = Event::raw(
            "MESSAGE_CREATE",
            Some(Snowflake::new(GUILD)),
            &json!({"id": (1 << 40) + i, "channel_id": CHANNEL.to_string(), "guild_id": GUILD.to_string(),
                    "author": {"id": "1", "username": "poster", "discriminator": "0", "avatar": null},
                    "content": "a typical chat message of modest length", "nonce": p.sent,
                    "published": now_nanos().to_string(),
                    "timestamp": "2026-01-01T00:00:00+00:00", "mentions": [], "embeds": [],
                    "attachments": [], "type": 0, "tts": false, "pinned": false,
                    "mention_everyone": false, "mention_roles": []}),
        )
        .expect("event");
        gw.publish(&event).await.expect("publish");
    }
    "ok"
}

/// The server's share of delivery latency since the last call (from the
/// fanout to the socket write), with `--features fanout-timing`.
async fn timing() -> String {
    #[cfg(feature = "fanout-timing")]
    {
        let (n, p) = discord_gateway::timing::take_percentiles(&[0.5, 0.99]);
        let (gaps, g) = discord_gateway::timing::take_gap_percentiles(&[0.5, 0.99, 1.0]);
        format!(
            "{n} {} {} {gaps} {} {} {} ok",
            p[0].as_micros(),
            p[1].as_micros(),
            g[0].as_micros(),
            g[1].as_micros(),
            g[2].as_micros()
        )
    }
    #[cfg(not(feature = "fanout-timing"))]
    "off ok".to_owned()
}

/// The socket writes of the node's fanout writers so far.
async fn writes(State(gw): State<Gateway>) -> String {
    format!("{} ok", gw.fanout_writes())
}

pub(crate) async fn server() {
    let listener = discord_gateway::listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let config = GatewayConfig {
        resume_gateway_url: format!("ws://{addr}"),
        node_id: format!("load-{}", std::process::id()),
        ..GatewayConfig::default()
    };
    let stores = match std::env::var("LOAD_REDIS") {
        Ok(url) => {
            // A prefix of this run's own (shared by its nodes), so runs
            // never read each other's logs.
            let prefix = std::env::var("LOAD_PREFIX")
                .unwrap_or_else(|_| format!("load{}:", std::process::id()));
            let redis = RedisStore::connect_with(&url, &prefix, 1000)
                .await
                .expect("LOAD_REDIS: connect");
            eprintln!("server: sessions, presence and pub/sub on Redis at {url}");
            GatewayStores {
                sessions: Arc::new(redis.clone()),
                presence: Arc::new(redis.clone()),
                pubsub: Arc::new(redis),
            }
        }
        Err(_) => GatewayStores {
            sessions: Arc::new(MemorySessions::new(1000)),
            presence: Arc::new(MemoryPresence::new()),
            pubsub: Arc::new(MemoryPubSub::new()),
        },
    };
    let gw = Gateway::start(config, Arc::new(LoadData), None, stores)
        .await
        .unwrap();
    let app = gw.router::<()>("/gateway").merge(
        axum::Router::new()
            .route("/publish", post(publish))
            .route("/timing", post(timing))
            .route("/writes", post(writes))
            .with_state(gw.clone()),
    );
    // Tell the parent where we listen.
    println!("{addr}");
    axum::serve(listener, app).await.unwrap();
}
