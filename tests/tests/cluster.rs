//! Two reference-server nodes in cluster mode sharing PostgreSQL (users,
//! guilds, members, messages) and Redis (sessions, presence, pub/sub): a
//! message posted through node A reaches a gateway session on node B, and
//! a session resumes on the other node when its node shuts down.
//!
//! Needs `POSTGRES_URL` and `REDIS_URL`; skipped loudly without them, and a
//! failure when `DISCORD_STORE_REQUIRE` lists postgres or redis (as
//! `.ci/run` does).

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::voice::{connect, heard, talk, voice_channel, wait};
use common::{dispatch, recv};
use discord_client::voice::VoiceEvent;
use discord_proto::Snowflake;
use discord_proto::gateway::{ClientCommand, UpdateVoiceState};
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
    node_with(name, pg, redis, dir, |_| {}).await
}

async fn node_with(
    name: &str,
    pg: &str,
    redis: &str,
    dir: &std::path::Path,
    tune: impl FnOnce(&mut Config),
) -> RunningServer {
    let mut c = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.join(name),
        node_id: format!("{name}-{}", unique()),
        ..Config::default()
    };
    // A worker ID of its own: the tests run in parallel on one database,
    // and two nodes sharing one would mint the same IDs in the same
    // millisecond (a user's insert then fails on the other's row).
    static NEXT_WORKER: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(1);
    c.worker_id = NEXT_WORKER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    c.cluster.postgres = Some(pg.to_owned());
    c.cluster.redis = Some(redis.to_owned());
    c.rate_limits.enabled = false;
    c.drain = Duration::from_secs(3);
    tune(&mut c);
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

/// Two nodes that are both voice nodes: the guild's voice channel lives on
/// one of them; users whose gateway sessions are on either node are sent
/// there, hear each other, and a server mute or a leave made through the
/// other node acts on the media there. Voice states live in Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_channels_live_on_one_node_of_the_cluster() {
    let Some((pg, redis)) = urls().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Ports first: every node's list names every node's endpoint.
    let mut ports = Vec::new();
    for _ in 0..2 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        ports.push(l.local_addr().unwrap().port());
    }
    let tag = unique();
    let ids = [format!("va-{tag}"), format!("vb-{tag}")];
    let list: Vec<String> = ids
        .iter()
        .zip(&ports)
        .map(|(id, port)| format!("{id}=ws://127.0.0.1:{port}/voice"))
        .collect();
    let mut nodes = Vec::new();
    for (i, name) in ["a", "b"].into_iter().enumerate() {
        let (id, port, list) = (ids[i].clone(), ports[i], list.clone());
        let secret = format!("voice secret {tag} shared");
        nodes.push(
            node_with(name, &pg, &redis, dir.path(), move |c| {
                c.node_id = id;
                c.listen = std::net::SocketAddr::from(([127, 0, 0, 1], port));
                c.voice_nodes = list
                    .iter()
                    .map(|n| discord_voice::VoiceNode::parse(n).unwrap())
                    .collect();
                c.voice_secret = Some(secret);
            })
            .await,
        );
    }
    let b = nodes.pop().unwrap();
    let a = nodes.pop().unwrap();
    let (on_a, on_b) = (common::Rest::new(a.url()), common::Rest::new(b.url()));

    let alice = on_a.register(&format!("valice{tag}")).await;
    let (gid, general) = on_a.guild(&alice, "Cluster voice").await;
    let bob = on_b.register(&format!("vbob{tag}")).await;
    let invite = on_a
        .post(&format!("/channels/{general}/invites"), &alice, json!({}))
        .await;
    on_b.post(
        &format!("/invites/{}", invite["code"].as_str().unwrap()),
        &bob,
        json!({}),
    )
    .await;
    let guild = Snowflake::new(gid.parse().unwrap());
    let channel = voice_channel(&on_a, &gid, &alice).await;
    let host = a.state.voice.node_for(channel, None).clone();
    assert_eq!(&host, b.state.voice.node_for(channel, None));
    let (host_node, other_rest) = if host.id == ids[0] {
        (&a, &on_a)
    } else {
        (&b, &on_b)
    };

    // Alice's gateway session is on A, Bob's on B.
    let gw = |r: &common::Rest, token: &str| {
        let (r, token) = (r.clone(), token.to_owned());
        async move {
            r.get("/gateway", &token).await["url"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let mut alice_gw = connect(&gw(&on_a, &alice).await, alice.clone()).await;
    let mut bob_gw = connect(&gw(&on_b, &bob).await, bob.clone()).await;
    let (alice_voice, mut alice_events) = alice_gw.join_voice(guild, channel).await;
    let (bob_voice, mut bob_events) = bob_gw.join_voice(guild, channel).await;
    assert_eq!(
        alice_gw.voice_endpoint.as_deref(),
        Some(host.endpoint.as_str())
    );
    assert_eq!(
        bob_gw.voice_endpoint.as_deref(),
        Some(host.endpoint.as_str())
    );
    assert_eq!(host_node.state.voice.sfu().participant_count(), 2);

    assert!(heard(&alice_voice, &mut bob_events, alice_gw.user_id, 0xA1).await);
    assert!(heard(&bob_voice, &mut alice_events, bob_gw.user_id, 0xB1).await);

    // The owner server-mutes Bob through the node that does not host the
    // channel: the host drops his audio.
    let stats = host_node.state.voice.sfu().stats();
    let dropped = stats.dropped_muted.load(Ordering::Relaxed);
    other_rest
        .call(
            reqwest::Method::PATCH,
            &format!("/guilds/{gid}/members/{}", bob_gw.user_id),
            Some(&alice),
            json!({"mute": true}),
        )
        .await;
    alice_gw.voice_state(bob_gw.user_id, |s| s.mute).await;
    let talk = talk(&bob_voice, 0xB2, 400);
    let dropping = async {
        while stats.dropped_muted.load(Ordering::Relaxed) < dropped + 10 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::select! {
        _ = talk => panic!("the host never dropped the muted audio"),
        _ = dropping => {}
    }

    // Bob leaves with op 4 on B: Alice hears of it at the host, and
    // Bob's media ends with 4014.
    bob_gw.shard.send(ClientCommand::VoiceStateUpdate(Box::new(
        UpdateVoiceState {
            guild_id: guild,
            channel_id: None,
            self_mute: false,
            self_deaf: false,
        },
    )));
    wait(
        &mut alice_events,
        "Bob's disconnect",
        |e| matches!(e, VoiceEvent::ClientDisconnect(u) if *u == bob_gw.user_id),
    )
    .await;
    wait(&mut bob_events, "close 4014", |e| {
        matches!(e, VoiceEvent::Closed { code: Some(4014) })
    })
    .await;
    assert!(
        a.state
            .voice
            .voice_state(guild, bob_gw.user_id)
            .await
            .unwrap()
            .is_none()
    );
    drop((alice_voice, bob_voice, alice_gw, bob_gw));
    b.stop().await.unwrap();
    a.stop().await.unwrap();
}
