//! Helpers shared by the end-to-end tests: a REST caller that asserts
//! success, and a raw gateway reader.
#![allow(dead_code, unreachable_pub, missing_docs)]

pub mod voice;

use std::time::Duration;

use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// REST calls against one server that must succeed.
#[derive(Clone)]
pub struct Rest {
    pub http: reqwest::Client,
    /// `http://host:port`.
    pub base: String,
}

impl Rest {
    pub fn new(base: String) -> Self {
        Rest {
            http: reqwest::Client::new(),
            base,
        }
    }

    pub async fn call(&self, method: Method, path: &str, auth: Option<&str>, body: Value) -> Value {
        let mut req = self
            .http
            .request(method, format!("{}/api/v10{path}", self.base))
            .json(&body);
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    pub async fn get(&self, path: &str, auth: &str) -> Value {
        self.call(Method::GET, path, Some(auth), Value::Null).await
    }

    pub async fn post(&self, path: &str, auth: &str, body: Value) -> Value {
        self.call(Method::POST, path, Some(auth), body).await
    }

    pub async fn put(&self, path: &str, auth: &str, body: Value) -> Value {
        self.call(Method::PUT, path, Some(auth), body).await
    }

    /// Registers a user; returns its token.
    pub async fn register(&self, name: &str) -> String {
        let r = self
            .call(
                Method::POST,
                "/auth/register",
                None,
                json!({"username": name, "password": "correct horse"}),
            )
            .await;
        r["token"].as_str().unwrap().to_owned()
    }

    /// A guild owned by `auth`: (guild id, its text channel `general`).
    pub async fn guild(&self, auth: &str, name: &str) -> (String, String) {
        let g = self.post("/guilds", auth, json!({"name": name})).await;
        let gid = g["id"].as_str().unwrap().to_owned();
        let channels = self.get(&format!("/guilds/{gid}/channels"), auth).await;
        let general = channels
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == 0)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        (gid, general)
    }
}

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next JSON payload (10 s at most).
pub async fn recv(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("gateway went quiet")
            .expect("closed")
            .expect("error");
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

/// Skips payloads until the dispatch named `name`.
pub async fn dispatch(ws: &mut Ws, name: &str) -> Value {
    loop {
        let v = recv(ws).await;
        if v["op"] == 0 && v["t"] == name {
            return v;
        }
    }
}

/// A server on a free port with its data in `dir` (rate limits on, as in
/// production).
pub async fn server(dir: &std::path::Path) -> reference_server::RunningServer {
    server_with(server_config(dir)).await
}

/// The settings [`server`] runs with, to change before [`server_with`].
pub fn server_config(dir: &std::path::Path) -> reference_server::Config {
    let mut config = reference_server::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_owned(),
        ..reference_server::Config::default()
    };
    config.drain = Duration::from_secs(1);
    config
}

pub async fn server_with(config: reference_server::Config) -> reference_server::RunningServer {
    reference_server::Server::bind(config)
        .await
        .unwrap()
        .spawn()
}

/// A person (`alice`) with a guild and a bot application in it.
pub struct BotSetup {
    pub alice: String,
    pub guild_id: String,
    pub general: String,
    pub bot_id: String,
    pub bot_token: String,
}

impl Rest {
    /// Registers alice, makes her guild `guild_name` and a bot `bot_name`,
    /// and adds the bot to the guild.
    pub async fn bot_setup(&self, guild_name: &str, bot_name: &str) -> BotSetup {
        let alice = self.register("alice").await;
        let (guild_id, general) = self.guild(&alice, guild_name).await;
        let app = self
            .post("/applications", &alice, json!({"name": bot_name}))
            .await;
        let bot_id = app["id"].as_str().unwrap().to_owned();
        let reset = self
            .post(
                &format!("/applications/{bot_id}/bot/reset"),
                &alice,
                json!({}),
            )
            .await;
        let bot_token = reset["token"].as_str().unwrap().to_owned();
        self.put(
            &format!("/guilds/{guild_id}/members/{bot_id}"),
            &alice,
            json!({}),
        )
        .await;
        BotSetup {
            alice,
            guild_id,
            general,
            bot_id,
            bot_token,
        }
    }
}
