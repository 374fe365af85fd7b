//! Two gateway nodes sharing Redis (sessions, replay logs, presence,
//! pub/sub): each delivers the other's events, and a session started on one
//! resumes on the other. Needs `REDIS_URL`; skipped loudly without it, and
//! a failure when `DISCORD_STORE_REQUIRE` lists redis (as `.ci/run` does).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use discord_gateway::GatewayStores;
use discord_store::backend::redis::RedisStore;

async fn redis_stores() -> Option<GatewayStores> {
    let url = match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            let required = std::env::var("DISCORD_STORE_REQUIRE").unwrap_or_default();
            if required.split(',').any(|b| b.trim() == "redis") {
                panic!(
                    "the Redis gateway tests are required by DISCORD_STORE_REQUIRE but REDIS_URL is not set"
                );
            }
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED: the Redis gateway cluster tests did not run because REDIS_URL is not set. ***"
            );
            return None;
        }
    };
    let prefix = format!("gwtest-{:x}:", rand_u64());
    let store = Arc::new(
        RedisStore::connect_with(&url, &prefix, 1000)
            .await
            .expect("Redis"),
    );
    Some(GatewayStores {
        sessions: store.clone(),
        presence: store.clone(),
        pubsub: store,
    })
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

#[tokio::test]
async fn two_nodes_over_redis_deliver_each_others_events() {
    let Some(stores) = redis_stores().await else {
        return;
    };
    let data = Data::new();
    let a = node(config("a"), stores.clone(), data.clone()).await;
    let b = node(config("b"), stores.clone(), data.clone()).await;
    let mut on_a = Client::identify(a.addr, 1, ALL).await;
    let mut on_b = Client::identify(b.addr, 3, ALL).await;
    a.gateway.publish(&message(1, 10)).await.unwrap();
    b.gateway.publish(&message(2, 10)).await.unwrap();
    for c in [&mut on_a, &mut on_b] {
        let mut got = vec![
            c.dispatch("MESSAGE_CREATE").await["d"]["content"]
                .as_str()
                .unwrap()
                .to_owned(),
            c.dispatch("MESSAGE_CREATE").await["d"]["content"]
                .as_str()
                .unwrap()
                .to_owned(),
        ];
        got.sort();
        assert_eq!(got, ["message 1", "message 2"]);
    }
    // Permission filtering holds across nodes: channel 11 is hidden from 3.
    a.gateway.publish(&message(3, 11)).await.unwrap();
    assert_eq!(
        on_a.dispatch("MESSAGE_CREATE").await["d"]["content"],
        "message 3"
    );
    assert!(on_b.quiet(Duration::from_millis(300)).await);
}

#[tokio::test]
async fn a_session_resumes_on_the_other_node_over_redis() {
    let Some(stores) = redis_stores().await else {
        return;
    };
    let data = Data::new();
    let a = node(config("a"), stores.clone(), data.clone()).await;
    let b = node(config("b"), stores.clone(), data.clone()).await;
    let c = Client::identify(a.addr, 3, ALL).await;
    let (session, seq) = c.drop_connection();
    for i in 1..=5 {
        a.gateway.publish(&message(i, 10)).await.unwrap();
    }
    let mut c = Client::resume(b.addr, 3, &session, seq).await;
    let replay = c.replay().await;
    let messages: Vec<_> = replay
        .iter()
        .filter(|(_, t, _)| t == "MESSAGE_CREATE")
        .map(|(_, _, content)| content.clone())
        .collect();
    assert_eq!(
        messages,
        (1..=5).map(|i| format!("message {i}")).collect::<Vec<_>>()
    );
    for (i, (s, _, _)) in replay.iter().enumerate() {
        assert_eq!(*s, seq + 1 + i as u64, "no gap in sequence numbers");
    }
    eventually(|| a.gateway.session_count() == 0).await;
    a.gateway.publish(&message(6, 10)).await.unwrap();
    let live = c.dispatch("MESSAGE_CREATE").await;
    assert_eq!(live["d"]["content"], "message 6");
    assert!(c.quiet(Duration::from_millis(300)).await, "delivered once");
}
