//! REST throughput and latency on the embedded default, in process:
//! `POST /channels/{id}/messages` from concurrent clients (each its own
//! channel, as rate limits would have it), then history pages. Reports
//! requests per second and p50/p99 latency, and the same message inserts
//! straight into the store for a ratio (what the HTTP, auth, permission and
//! fanout layers add). Run:
//!
//! ```sh
//! cargo bench -p reference-server --bench rest_load -- [MESSAGES] [CLIENTS]
//! ```

use std::time::{Duration, Instant};

use discord_store::message::MessageRecord;
use reference_server::{Config, Server};
use serde_json::{Value, json};

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn post(http: &reqwest::Client, url: String, auth: &str, body: Value) -> Value {
    let res = http
        .post(url)
        .header("Authorization", auth)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert!(res.status().is_success(), "{}", res.status());
    res.json().await.unwrap_or(Value::Null)
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let messages = args.first().copied().unwrap_or(20_000);
    let clients = args.get(1).copied().unwrap_or(16);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.path().to_owned(),
        log: "error".into(),
        ..Config::default()
    };
    config.rate_limits.enabled = false;
    let server = Server::bind(config).await.expect("server").spawn();
    let base = format!("{}/api/v10", server.url());
    let http = reqwest::Client::new();

    let reg = post(
        &http,
        format!("{base}/auth/register"),
        "",
        json!({"username": "bench", "password": "correct horse"}),
    )
    .await;
    let token = reg["token"].as_str().expect("token").to_owned();
    let guild = post(
        &http,
        format!("{base}/guilds"),
        &token,
        json!({"name": "bench"}),
    )
    .await;
    let gid = guild["id"].as_str().expect("id").to_owned();
    let mut channels = Vec::new();
    for i in 0..clients {
        let c = post(
            &http,
            format!("{base}/guilds/{gid}/channels"),
            &token,
            json!({"name": format!("c{i}")}),
        )
        .await;
        channels.push(c["id"].as_str().expect("id").to_owned());
    }

    // POST messages.
    let per_client = messages / clients;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for channel in channels.clone() {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_client);
            for i in 0..per_client {
                let t = Instant::now();
                post(
                    &http,
                    format!("{base}/channels/{channel}/messages"),
                    &token,
                    json!({"content": format!("message {i}")}),
                )
                .await;
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("task"));
    }
    let took = start.elapsed();
    lat.sort();
    let posted = lat.len();
    let rest_rate = posted as f64 / took.as_secs_f64();
    println!(
        "POST messages: {posted} with {clients} clients in {:.2} s = {rest_rate:.0}/s; p50 {:.2} ms, p99 {:.2} ms",
        took.as_secs_f64(),
        pct(&lat, 0.5),
        pct(&lat, 0.99)
    );

    // History pages of 50.
    let pages = posted.min(5_000);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for channel in channels.clone() {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for _ in 0..pages / clients {
                let t = Instant::now();
                let res = http
                    .get(format!("{base}/channels/{channel}/messages?limit=50"))
                    .header("Authorization", &token)
                    .send()
                    .await
                    .expect("request");
                assert!(res.status().is_success());
                let _ = res.bytes().await;
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("task"));
    }
    let took = start.elapsed();
    lat.sort();
    println!(
        "GET 50-message pages: {} in {:.2} s = {:.0}/s; p50 {:.2} ms, p99 {:.2} ms",
        lat.len(),
        took.as_secs_f64(),
        lat.len() as f64 / took.as_secs_f64(),
        pct(&lat, 0.5),
        pct(&lat, 0.99)
    );

    // The same number of inserts straight into the store, same concurrency.
    let store = server.state.stores.messages.clone();
    let ids = std::sync::Arc::new(discord_snowflake::Generator::new(31, 31).expect("generator"));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (store, ids) = (store.clone(), ids.clone());
        tasks.push(tokio::spawn(async move {
            let channel = discord_proto::Snowflake::new(1_000 + c as u64);
            for i in 0..per_client {
                let m = MessageRecord::new(
                    ids.next_id(),
                    channel,
                    discord_proto::Snowflake::new(1),
                    format!("message {i}"),
                );
                store.insert(&m).await.expect("insert");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let store_rate = posted as f64 / start.elapsed().as_secs_f64();
    println!(
        "store inserts alone: {store_rate:.0}/s; REST reaches {:.2}x of it",
        rest_rate / store_rate
    );
    server.stop().await.expect("stop");
}
