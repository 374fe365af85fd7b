//! An in-process server on a free port with its own data directory, a
//! small REST helper and a gateway client.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use reference_server::{Config, RunningServer, Server};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub struct TestServer {
    pub server: RunningServer,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// Settings for a test server: a free port, a fresh directory, no rate
/// limits unless a test turns them on.
pub fn config(dir: &std::path::Path) -> Config {
    let mut c = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_owned(),
        ..Config::default()
    };
    c.rate_limits.enabled = false;
    c.drain = Duration::from_secs(2);
    c
}

pub async fn start() -> TestServer {
    start_with(|_| {}).await
}

pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    tweak(&mut c);
    let server = Server::bind(c).await.unwrap().spawn();
    TestServer {
        server,
        http: reqwest::Client::new(),
        _dir: dir,
    }
}

/// A response: status, JSON body (Null when empty), headers.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    pub fn code(&self) -> u64 {
        self.body["code"].as_u64().unwrap_or(u64::MAX)
    }
}

pub struct User {
    pub token: String,
    pub id: String,
    pub name: String,
}

impl User {
    pub fn auth(&self) -> String {
        self.token.clone()
    }
}

pub struct Bot {
    pub token: String,
    pub id: String,
}

impl Bot {
    pub fn auth(&self) -> String {
        format!("Bot {}", self.token)
    }
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v10{path}", self.server.url())
    }

    pub fn gateway_url(&self) -> String {
        self.server.state.gateway_url.clone()
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.http.request(method, self.url(path));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        Self::reply(res).await
    }

    pub async fn reply(res: reqwest::Response) -> Reply {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Reply {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str, auth: &str) -> Reply {
        self.call(Method::GET, path, Some(auth), None).await
    }
    pub async fn post(&self, path: &str, auth: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(auth), Some(body)).await
    }
    pub async fn patch(&self, path: &str, auth: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(auth), Some(body)).await
    }
    pub async fn put(&self, path: &str, auth: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(auth), Some(body)).await
    }
    pub async fn delete(&self, path: &str, auth: &str) -> Reply {
        self.call(Method::DELETE, path, Some(auth), None).await
    }

    pub async fn register(&self, name: &str) -> User {
        let r = self
            .call(
                Method::POST,
                "/auth/register",
                None,
                Some(json!({"username": name, "password": "correct horse"})),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        User {
            token: r.body["token"].as_str().unwrap().to_owned(),
            id: r.body["user"]["id"].as_str().unwrap().to_owned(),
            name: name.to_owned(),
        }
    }

    /// A bot application owned by `owner`, with its token.
    pub async fn bot(&self, owner: &User, name: &str) -> Bot {
        let app = self
            .post("/applications", &owner.auth(), json!({"name": name}))
            .await;
        assert_eq!(app.status, 201, "{:?}", app.body);
        let id = app.body["id"].as_str().unwrap().to_owned();
        let reset = self
            .post(
                &format!("/applications/{id}/bot/reset"),
                &owner.auth(),
                json!({}),
            )
            .await;
        assert_eq!(reset.status, 200, "{:?}", reset.body);
        Bot {
            token: reset.body["token"].as_str().unwrap().to_owned(),
            id,
        }
    }

    /// A guild owned by `owner`: (guild id, `general` id, `General` id).
    pub async fn guild(&self, owner: &User, name: &str) -> (String, String, String) {
        let g = self
            .post("/guilds", &owner.auth(), json!({"name": name}))
            .await;
        assert_eq!(g.status, 201, "{:?}", g.body);
        let id = g.body["id"].as_str().unwrap().to_owned();
        let channels = self
            .get(&format!("/guilds/{id}/channels"), &owner.auth())
            .await;
        let find = |kind: u64| {
            channels
                .body
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["type"] == kind)
                .unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        (id.clone(), find(0), find(2))
    }

    /// `user` joins `guild` through a fresh invite made by `owner`.
    pub async fn join(&self, owner: &User, channel: &str, user: &User) {
        let inv = self
            .post(
                &format!("/channels/{channel}/invites"),
                &owner.auth(),
                json!({"unique": true}),
            )
            .await;
        assert_eq!(inv.status, 200, "{:?}", inv.body);
        let code = inv.body["code"].as_str().unwrap();
        let j = self
            .post(&format!("/invites/{code}"), &user.auth(), json!({}))
            .await;
        assert_eq!(j.status, 200, "{:?}", j.body);
    }

    pub async fn send(&self, channel: &str, auth: &str, content: &str) -> Reply {
        self.post(
            &format!("/channels/{channel}/messages"),
            auth,
            json!({"content": content}),
        )
        .await
    }
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A gateway session that has seen READY.
pub struct Session {
    pub ws: Ws,
    pub ready: Value,
    pub seq: u64,
}

const WAIT: Duration = Duration::from_secs(10);

impl Session {
    pub async fn connect(url: &str, token: &str, intents: u64) -> Session {
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("{url}?v=10&encoding=json"))
            .await
            .unwrap();
        let hello = next_json(&mut ws).await;
        assert_eq!(hello["op"], 10);
        let identify = json!({"op": 2, "d": {"token": token, "intents": intents,
            "properties": {"os": "linux", "browser": "test", "device": "test"}}});
        ws.send(Message::text(identify.to_string())).await.unwrap();
        let mut s = Session {
            ws,
            ready: Value::Null,
            seq: 0,
        };
        let ready = s.event("READY").await;
        s.ready = ready;
        s
    }

    /// The next dispatch (any name): (name, data).
    pub async fn next(&mut self) -> (String, Value) {
        loop {
            let v = next_json(&mut self.ws).await;
            if v["op"] == 0 {
                self.seq = v["s"].as_u64().unwrap();
                return (v["t"].as_str().unwrap().to_owned(), v["d"].clone());
            }
        }
    }

    /// Skips dispatches until one named `name`.
    pub async fn event(&mut self, name: &str) -> Value {
        loop {
            let (t, d) = self.next().await;
            if t == name {
                return d;
            }
        }
    }

    /// Whether a dispatch named `name` arrives within `wait`.
    pub async fn sees(&mut self, name: &str, wait: Duration) -> Option<Value> {
        tokio::time::timeout(wait, self.event(name)).await.ok()
    }
}

pub async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("gateway went quiet")
            .expect("gateway closed")
            .expect("gateway error");
        match msg {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            Message::Close(f) => panic!("gateway closed: {f:?}"),
            _ => {}
        }
    }
}

/// Intents: GUILDS | GUILD_MEMBERS | GUILD_MESSAGES | GUILD_MESSAGE_REACTIONS
/// | GUILD_MESSAGE_TYPING | MESSAGE_CONTENT | GUILD_INVITES.
pub const ALL_INTENTS: u64 = 1 | 2 | (1 << 6) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 15);
