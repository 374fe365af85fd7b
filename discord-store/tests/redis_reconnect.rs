//! A Redis subscriber whose connection is killed reconnects and
//! resubscribes by itself. Its own test binary, because it kills every
//! pub/sub connection on the server (cargo runs test binaries one at a
//! time, so no other suite's subscribers are hit).

mod suite;

#[cfg(feature = "redis")]
#[tokio::test]
async fn subscriber_survives_a_killed_connection() {
    use std::time::Duration;

    use bytes::Bytes;
    use discord_proto::Snowflake;
    use discord_store::backend::redis::RedisStore;
    use discord_store::{PubSub, Topic};

    let Some(url) = suite::service_url("redis", "REDIS_URL") else {
        return;
    };
    let prefix = format!("dstore-test:{}:", suite::namespace());
    let store = RedisStore::connect_with(&url, &prefix, 10).await.unwrap();
    let topic = Topic::Channel(Snowflake::new(suite::namespace()));
    let mut sub = store.subscriber().await.unwrap();
    sub.subscribe(&topic).await.unwrap();
    store
        .publish(&topic, Bytes::from_static(b"before"))
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap();
    assert_eq!(got, Some((topic.clone(), Bytes::from_static(b"before"))));

    // Kill the subscriber's connection from another client.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut admin = client.get_multiplexed_async_connection().await.unwrap();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut admin)
        .await
        .unwrap();
    assert!(killed >= 1, "the subscriber's connection was killed");

    // Publish until the resubscribed connection receives (messages sent
    // while it was down are lost, as pub/sub documents).
    let receiver = tokio::spawn(async move {
        loop {
            match sub.next().await {
                Some((t, payload)) if payload.as_ref() == b"after" => return t,
                Some(_) => continue,
                None => panic!("subscriber ended"),
            }
        }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !receiver.is_finished() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no delivery after reconnect"
        );
        store
            .publish(&topic, Bytes::from_static(b"after"))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(receiver.await.unwrap(), topic);
}

#[cfg(not(feature = "redis"))]
#[test]
fn redis_feature_disabled() {
    suite::loud_skip("the redis reconnect test needs the `redis` feature");
}
