//! A gateway on a real socket with in-memory data, and a WebSocket client
//! that speaks just enough of the protocol to test it.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use discord_gateway::{
    AuthError, Gateway, GatewayConfig, GatewayData, GatewayStores, Identity, MemberQuery,
};
use discord_proto::Snowflake;
use discord_proto::gateway::{GatewayGuild, Intents};
use discord_proto::model::{Member, User};
use discord_store::backend::memory::{MemoryPresence, MemoryPubSub, MemorySessions};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub fn id(n: u64) -> Snowflake {
    Snowflake::new(n)
}

pub fn user_json(n: u64) -> Value {
    json!({"id": n.to_string(), "username": format!("user{n}"), "discriminator": "0", "avatar": null})
}

/// Guild 100 owned by user 1: channel 10 open to all, channel 11 hidden
/// from @everyone and shown to role 200. Members: 1, 2 (role 200), 3, and
/// bot 9.
pub fn guild() -> GatewayGuild {
    let member = |n: u64, roles: Value| {
        json!({"user": user_json(n), "roles": roles, "joined_at": "2026-01-01T00:00:00+00:00",
               "deaf": false, "mute": false})
    };
    serde_json::from_value(json!({
        "id": "100", "name": "g", "owner_id": "1",
        "roles": [
            {"id": "100", "name": "@everyone", "permissions": "3072", "position": 0,
             "color": 0, "hoist": false, "managed": false, "mentionable": false},
            {"id": "200", "name": "mods", "permissions": "0", "position": 1,
             "color": 0, "hoist": false, "managed": false, "mentionable": false}
        ],
        "channels": [
            {"id": "10", "type": 0, "guild_id": "100", "name": "open"},
            {"id": "11", "type": 0, "guild_id": "100", "name": "hidden",
             "permission_overwrites": [
                {"id": "100", "type": 0, "allow": "0", "deny": "1024"},
                {"id": "200", "type": 0, "allow": "1024", "deny": "0"}
             ]}
        ],
        "members": [member(1, json!([])), member(2, json!(["200"])), member(3, json!([])), member(9, json!([]))],
        "member_count": 4
    }))
    .unwrap()
}

/// Tokens are `token-N` for user N; user 9 is a bot without privileged
/// intents.
#[derive(Default)]
pub struct Data {
    pub guilds: Mutex<Vec<GatewayGuild>>,
}

impl Data {
    pub fn new() -> Arc<Self> {
        Arc::new(Data {
            guilds: Mutex::new(vec![guild()]),
        })
    }
}

#[async_trait]
impl GatewayData for Data {
    async fn authenticate(&self, token: &str) -> Result<Identity, AuthError> {
        let token = token.strip_prefix("Bot ").unwrap_or(token);
        let n: u64 = token
            .strip_prefix("token-")
            .and_then(|n| n.parse().ok())
            .ok_or(AuthError::InvalidToken)?;
        let mut user: User = serde_json::from_value(user_json(n)).unwrap();
        let bot = n == 9;
        user.bot = bot;
        Ok(Identity {
            user,
            application: bot.then(|| discord_proto::gateway::ReadyApplication {
                id: id(90),
                flags: 0,
            }),
            allowed_privileged: if bot {
                Intents::empty()
            } else {
                Intents::PRIVILEGED
            },
        })
    }

    async fn guilds(&self, user_id: Snowflake) -> Result<Vec<GatewayGuild>, String> {
        Ok(self
            .guilds
            .lock()
            .unwrap()
            .iter()
            .filter(|g| {
                g.members
                    .iter()
                    .any(|m| m.user.as_ref().is_some_and(|u| u.id == user_id))
            })
            .cloned()
            .collect())
    }

    async fn guild_ids(&self, user_id: Snowflake) -> Result<Vec<Snowflake>, String> {
        Ok(self
            .guilds(user_id)
            .await?
            .iter()
            .map(|g| g.guild.id)
            .collect())
    }

    async fn members(
        &self,
        guild_id: Snowflake,
        query: &MemberQuery,
        limit: usize,
    ) -> Result<Vec<Member>, String> {
        let guilds = self.guilds.lock().unwrap();
        let Some(g) = guilds.iter().find(|g| g.guild.id == guild_id) else {
            return Ok(Vec::new());
        };
        let mut out: Vec<Member> = g
            .members
            .iter()
            .filter(|m| {
                let u = m.user.as_ref().unwrap();
                match query {
                    MemberQuery::Ids(ids) => ids.contains(&u.id),
                    MemberQuery::Prefix(p) => {
                        u.username.to_lowercase().starts_with(&p.to_lowercase())
                    }
                }
            })
            .cloned()
            .collect();
        if limit > 0 {
            out.truncate(limit);
        }
        Ok(out)
    }
}

/// Stores shared by every node of a test "cluster".
pub fn memory_stores(log_len: usize) -> GatewayStores {
    GatewayStores {
        sessions: Arc::new(MemorySessions::new(log_len)),
        presence: Arc::new(MemoryPresence::new()),
        pubsub: Arc::new(MemoryPubSub::new()),
    }
}

pub fn config(node: &str) -> GatewayConfig {
    GatewayConfig {
        node_id: node.into(),
        heartbeat_interval: Duration::from_secs(30),
        heartbeat_timeout: Duration::from_secs(60),
        resume_window: Duration::from_secs(30),
        ..GatewayConfig::default()
    }
}

pub struct Node {
    pub gateway: Gateway,
    pub addr: SocketAddr,
    pub data: Arc<Data>,
}

/// Starts a node serving the gateway at `/` and `/gateway`.
pub async fn node(config: GatewayConfig, stores: GatewayStores, data: Arc<Data>) -> Node {
    node_with_voice(config, stores, data, None).await
}

/// [`node`] with a voice hook.
pub async fn node_with_voice(
    config: GatewayConfig,
    stores: GatewayStores,
    data: Arc<Data>,
    voice: Option<Arc<dyn discord_gateway::VoiceHook>>,
) -> Node {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = GatewayConfig {
        resume_gateway_url: format!("ws://{addr}"),
        ..config
    };
    let gateway = Gateway::start(config, data.clone(), voice, stores)
        .await
        .unwrap();
    let app = gateway.router::<()>("/").merge(gateway.router("/gateway"));
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Node {
        gateway,
        addr,
        data,
    }
}

pub async fn single() -> Node {
    node(config("a"), memory_stores(1000), Data::new()).await
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Client {
    pub ws: Ws,
    pub seq: u64,
    pub session_id: String,
}

pub const WAIT: Duration = Duration::from_secs(10);

impl Client {
    pub async fn connect(addr: SocketAddr, query: &str) -> Client {
        let url = format!("ws://{addr}/?{query}");
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect timed out")
            .expect("connect");
        Client {
            ws,
            seq: 0,
            session_id: String::new(),
        }
    }

    pub async fn send(&mut self, v: Value) {
        self.ws.send(Message::text(v.to_string())).await.unwrap();
    }

    /// The next payload, or the close code if the server closed.
    pub async fn next(&mut self) -> Result<Value, u16> {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("no payload within the wait");
            match msg {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    if let Some(s) = v["s"].as_u64() {
                        self.seq = s;
                    }
                    return Ok(v);
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(frame.map_or(1005, |f| f.code.into()));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Err(1006),
            }
        }
    }

    pub async fn payload(&mut self) -> Value {
        self.next().await.expect("connection closed")
    }

    /// The next dispatch with name `t`, skipping others.
    pub async fn dispatch(&mut self, t: &str) -> Value {
        loop {
            let v = self.payload().await;
            if v["op"] == 0 && v["t"] == t {
                return v;
            }
        }
    }

    pub async fn closed_with(&mut self) -> u16 {
        loop {
            if let Err(code) = self.next().await {
                return code;
            }
        }
    }

    /// Nothing arrives within `d`.
    pub async fn quiet(&mut self, d: Duration) -> bool {
        tokio::time::timeout(d, self.ws.next()).await.is_err()
    }

    /// HELLO, IDENTIFY, READY and every GUILD_CREATE.
    pub async fn identify(addr: SocketAddr, user: u64, intents: Intents) -> Client {
        let mut c = Client::connect(addr, "v=10&encoding=json").await;
        assert_eq!(c.payload().await["op"], 10);
        c.send(identify(user, intents)).await;
        let ready = c.dispatch("READY").await;
        c.session_id = ready["d"]["session_id"].as_str().unwrap().to_owned();
        for _ in 0..ready["d"]["guilds"].as_array().unwrap().len() {
            c.dispatch("GUILD_CREATE").await;
        }
        c
    }

    /// Drops the TCP connection without a close frame.
    pub fn drop_connection(self) -> (String, u64) {
        let Client {
            ws,
            seq,
            session_id,
        } = self;
        drop(ws);
        (session_id, seq)
    }
}

pub fn identify(user: u64, intents: Intents) -> Value {
    json!({"op": 2, "d": {"token": format!("token-{user}"),
        "properties": {"os": "linux", "browser": "test", "device": "test"},
        "intents": intents.bits()}})
}

pub fn message(n: u64, channel: u64) -> discord_gateway::Event {
    discord_gateway::Event::raw(
        "MESSAGE_CREATE",
        Some(id(100)),
        &json!({"id": (1000 + n).to_string(), "channel_id": channel.to_string(), "guild_id": "100",
                "author": user_json(1), "content": format!("message {n}"), "mentions": [],
                "embeds": [], "attachments": [], "timestamp": "2026-01-01T00:00:00+00:00",
                "edited_timestamp": null, "tts": false, "mention_everyone": false,
                "mention_roles": [], "pinned": false, "type": 0}),
    )
    .unwrap()
}

pub const ALL: Intents = Intents::GUILDS
    .union(Intents::GUILD_MESSAGES)
    .union(Intents::MESSAGE_CONTENT)
    .union(Intents::GUILD_PRESENCES)
    .union(Intents::GUILD_MEMBERS);

impl Client {
    /// Reconnects to `addr` and sends RESUME for `session_id` after `seq`.
    pub async fn resume(addr: SocketAddr, user: u64, session_id: &str, seq: u64) -> Client {
        let mut c = Client::connect(addr, "v=10&encoding=json").await;
        assert_eq!(c.payload().await["op"], 10);
        c.send(json!({"op": 6, "d": {"token": format!("token-{user}"), "session_id": session_id, "seq": seq}}))
            .await;
        c.session_id = session_id.to_owned();
        c
    }

    /// Dispatches up to and including RESUMED, as `(seq, t, content)`.
    pub async fn replay(&mut self) -> Vec<(u64, String, String)> {
        let mut out = Vec::new();
        loop {
            let v = self.payload().await;
            assert_eq!(v["op"], 0, "expected only dispatches during replay: {v}");
            let t = v["t"].as_str().unwrap().to_owned();
            let content = v["d"]["content"].as_str().unwrap_or_default().to_owned();
            out.push((v["s"].as_u64().unwrap(), t.clone(), content));
            if t == "RESUMED" {
                return out;
            }
        }
    }
}

/// Waits until `f` holds, polling (for server-side effects of a client
/// action that has no reply).
pub async fn eventually(mut f: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !f() {
        assert!(start.elapsed() < WAIT, "condition not reached in time");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
