//! Two reference-server nodes in cluster mode sharing PostgreSQL (users,
//! guilds, members, messages) and Redis (sessions, presence, pub/sub): a
//! message posted through node A reaches a gateway session on node B, and
//! a session resumes on the other node when its node shuts down.
//!
//! Needs `POSTGRES_URL` and `REDIS_URL`; skipped loudly without them, and a
//! failure when `DISCORD_STORE_REQUIRE` lists postgres or redis (as
//! `.ci/run` does).

mod common;

use std::time::Duration;

use common::{dispatch, recv};
use futures::SinkExt;
use reference_server::{Config, RunningServer, Server};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

const SCHEMA: &str = "reference_server_test";

fn required(name: &str) -> bool {
    std::env::var("DISCORD_STORE_REQUIRE")
        .unwrap_or_default()
        .split(',')
        .any(|b| b.trim() == name)
}

/// The service URLs, or `None` (after saying so) when they are not set.
async fn urls() -> Option<(String, String)> {
    let pg = std::env::var("POSTGRES_URL").ok().filter(|u| !u.is_empty());
    let redis = std::env::var("REDIS_URL").ok().filter(|u| !u.is_empty());
    let (Some(pg), Some(redis)) = (pg, redis) else {
        if required("postgres") || required("redis") {
            panic!(
                "the cluster test is required by DISCORD_STORE_REQUIRE but POSTGRES_URL or REDIS_URL is not set"
            );
        }
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: the two-node cluster test did not run because POSTGRES_URL or REDIS_URL is not set. ***"
        );
        return None;
    };
    // A schema of its own, so other suites sharing the database are not
    // disturbed.
    let pool = sqlx::PgPool::connect(&pg).await.expect("PostgreSQL");
    // Tests run in parallel, and two concurrent `IF NOT EXISTS` can still
    // collide on PostgreSQL's catalog: the loser sees a unique violation
    // for a schema that now exists, which is what it wanted.
    if let Err(e) = sqlx::query("CREATE SCHEMA IF NOT EXISTS reference_server_test")
        .execute(&pool)
        .await
    {
        let duplicate = e
            .as_database_error()
            .and_then(|d| d.code())
            .is_some_and(|c| c == "23505" || c == "42P06");
        assert!(duplicate, "creating the test schema: {e}");
    }
    pool.close().await;
    let sep = if pg.contains('?') { '&' } else { '?' };
    Some((
        format!("{pg}{sep}options=-c%20search_path%3D{SCHEMA}"),
        redis,
    ))
}

async fn node(name: &str, pg: &str, redis: &str, dir: &std::path::Path) -> RunningServer {
    let mut c = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.join(name),
        node_id: format!("{name}-{}", unique()),
        ..Config::default()
    };
    c.worker_id = if name == "a" { 1 } else { 2 };
    c.cluster.postgres = Some(pg.to_owned());
    c.cluster.redis = Some(redis.to_owned());
    c.rate_limits.enabled = false;
    c.drain = Duration::from_secs(3);
    Server::bind(c).await.expect("cluster node").spawn()
}

fn unique() -> String {
    use std::hash::{BuildHasher, RandomState};
    format!(
        "{:x}",
        RandomState::new().hash_one(std::time::SystemTime::now()) & 0xffff_ffff
    )
}

#[tokio::test]
async fn a_message_posted_on_one_node_reaches_a_session_on_the_other() {
    let Some((pg, redis)) = urls().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let a = node("a", &pg, &redis, dir.path()).await;
    let b = node("b", &pg, &redis, dir.path()).await;
    let (on_a, on_b) = (common::Rest::new(a.url()), common::Rest::new(b.url()));
    let tag = unique();

    // Accounts and a guild made through A; Bob registers and joins through B.
    let alice = on_a.register(&format!("alice{tag}")).await;
    let (gid, general) = on_a.guild(&alice, "Cluster").await;
    let bob = on_b.register(&format!("bob{tag}")).await;
    let invite = on_a
        .post(&format!("/channels/{general}/invites"), &alice, json!({}))
        .await;
    let code = invite["code"].as_str().unwrap();
    on_b.post(&format!("/invites/{code}"), &bob, json!({}))
        .await;

    // Bob's session lives on B.
    let gw = on_b.get("/gateway", &bob).await;
    let url = format!("{}?v=10&encoding=json", gw["url"].as_str().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    recv(&mut ws).await;
    let intents = 1 | (1 << 9) | (1 << 15);
    let identify = json!({"op": 2, "d": {"token": bob, "intents": intents, "properties": {}}});
    ws.send(Message::text(identify.to_string())).await.unwrap();
    let ready = dispatch(&mut ws, "READY").await;
    assert_eq!(ready["d"]["guilds"][0]["id"], gid.as_str());
    let session_id = ready["d"]["session_id"].as_str().unwrap().to_owned();
    dispatch(&mut ws, "GUILD_CREATE").await;

    // Posted through A, delivered by B.
    let messages = format!("/channels/{general}/messages");
    let sent = on_a
        .post(&messages, &alice, json!({"content": "across nodes"}))
        .await;
    let got = dispatch(&mut ws, "MESSAGE_CREATE").await;
    assert_eq!(got["d"]["id"], sent["id"]);
    assert_eq!(got["d"]["content"], "across nodes");
    let seq = got["s"].as_u64().unwrap();

    // B shuts down: Bob is told to reconnect, resumes on A, and misses
    // nothing posted in between.
    let stopping = tokio::spawn(async move { b.stop().await });
    while recv(&mut ws).await["op"] != 7 {}
    drop(ws);
    on_a.post(&messages, &alice, json!({"content": "while moving"}))
        .await;
    let gw_a = on_a.get("/gateway", &bob).await;
    let url = format!("{}?v=10&encoding=json", gw_a["url"].as_str().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    recv(&mut ws).await;
    let resume = json!({"op": 6, "d": {"token": bob, "session_id": session_id, "seq": seq}});
    ws.send(Message::text(resume.to_string())).await.unwrap();
    let missed = dispatch(&mut ws, "MESSAGE_CREATE").await;
    assert_eq!(missed["d"]["content"], "while moving");
    assert_eq!(missed["s"].as_u64().unwrap(), seq + 1);
    dispatch(&mut ws, "RESUMED").await;
    stopping.await.unwrap().unwrap();
    a.stop().await.unwrap();
}

/// In cluster mode, message events go onto Kafka (a topic of this test's
/// own), keyed by channel, for consumers such as search indexing. Needs
/// `KAFKA_BROKERS` too; skipped loudly without it, a failure when
/// `DISCORD_STORE_REQUIRE` lists kafka.
#[tokio::test]
async fn cluster_mode_puts_message_events_on_kafka() {
    let Some((pg, redis)) = urls().await else {
        return;
    };
    let Some(brokers) = std::env::var("KAFKA_BROKERS")
        .ok()
        .filter(|b| !b.is_empty())
    else {
        if required("kafka") {
            panic!(
                "the Kafka cluster test is required by DISCORD_STORE_REQUIRE but KAFKA_BROKERS is not set"
            );
        }
        eprintln!(
            "\n*** SKIPPED: the Kafka cluster test did not run because KAFKA_BROKERS is not set. ***"
        );
        return;
    };
    let topic = format!("server-test-{}", unique());
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    c.cluster.postgres = Some(pg);
    c.cluster.redis = Some(redis);
    c.cluster.kafka = Some(brokers.clone());
    c.cluster.kafka_topic = Some(topic.clone());
    c.rate_limits.enabled = false;
    let server = Server::bind(c).await.expect("cluster node").spawn();
    let api = common::Rest::new(server.url());
    let alice = api.register(&format!("kafka{}", unique())).await;
    let (_, general) = api.guild(&alice, "Kafka").await;
    let messages = format!("/channels/{general}/messages");
    let sent = api
        .post(&messages, &alice, json!({"content": "to kafka"}))
        .await;

    let bus = discord_store::backend::kafka::KafkaBus::connect_with(
        &brokers,
        &topic,
        4,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    use discord_store::EventBus;
    let mut consumer = bus.consumer("e2e").await.unwrap();
    let delivery = consumer
        .next(Duration::from_secs(30))
        .await
        .unwrap()
        .expect("no event on Kafka within 30 s");
    assert_eq!(delivery.event.kind, "MESSAGE_CREATE");
    assert_eq!(delivery.event.channel_id.to_string(), general);
    let payload: serde_json::Value = serde_json::from_slice(&delivery.event.payload).unwrap();
    assert_eq!(payload["id"], sent["id"]);
    assert_eq!(payload["content"], "to kafka");
    server.stop().await.unwrap();
}
