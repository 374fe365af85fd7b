//! The conformance suite against Redis (the `redis` feature), when
//! `REDIS_URL` is set, e.g. `redis://127.0.0.1:6379/0`. Each test uses its
//! own key prefix.

mod suite;

#[cfg(feature = "redis")]
mod live {
    use std::time::Duration;

    use bytes::Bytes;
    use discord_store::backend::redis::RedisStore;
    use discord_store::{PubSub, Topic};

    use super::suite;

    const CAPACITY: usize = 50;

    /// The server's URL and a key prefix of the calling test's own; `None`
    /// (after the suite's notice) without `REDIS_URL`.
    fn target() -> Option<(String, String)> {
        let url = suite::service_url("redis", "REDIS_URL")?;
        Some((url, format!("dstore-test:{}:", suite::namespace())))
    }

    /// A plain connection to the server, to look at the keys a store wrote.
    async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
        redis::Client::open(url)
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    async fn redis() -> Option<RedisStore> {
        let (url, prefix) = target()?;
        Some(
            RedisStore::connect_with(&url, &prefix, CAPACITY)
                .await
                .expect("connect to REDIS_URL"),
        )
    }

    /// A store whose logs keep 100 events, with its server's URL and key
    /// prefix (to look at what it wrote).
    async fn bounded_to_100() -> Option<(RedisStore, String, String)> {
        let (url, prefix) = target()?;
        let store = RedisStore::connect_with(&url, &prefix, 100)
            .await
            .expect("connect to REDIS_URL");
        Some((store, url, prefix))
    }

    #[tokio::test]
    async fn presence_expiry() {
        let Some(r) = redis().await else { return };
        suite::live::presence_expiry(&r).await;
    }

    #[tokio::test]
    async fn sessions_and_replay() {
        let Some(r) = redis().await else { return };
        suite::live::sessions_and_replay(&r, CAPACITY as u64).await;
    }

    #[tokio::test]
    async fn batch_append() {
        let Some(r) = redis().await else { return };
        suite::live::batch_append(&r, CAPACITY as u64).await;
    }

    #[tokio::test]
    async fn session_expiry() {
        let Some(r) = redis().await else { return };
        suite::live::session_expiry(&r).await;
    }

    #[tokio::test]
    async fn log_handles() {
        let Some(r) = redis().await else { return };
        suite::live::log_handles(&r).await;
    }

    #[tokio::test]
    async fn pubsub_delivery() {
        let Some(r) = redis().await else { return };
        suite::live::pubsub_delivery(&r).await;
    }

    #[tokio::test]
    async fn voice_join_move_leave() {
        let Some(r) = redis().await else { return };
        suite::voice::join_move_leave(&r).await;
    }

    #[tokio::test]
    async fn voice_channel_limit() {
        let Some(r) = redis().await else { return };
        suite::voice::channel_limit(&r).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn voice_concurrent_joins_respect_the_limit() {
        let Some(r) = redis().await else { return };
        suite::voice::concurrent_joins_respect_the_limit(std::sync::Arc::new(r)).await;
    }

    #[tokio::test]
    async fn voice_replace_is_compare_and_set() {
        let Some(r) = redis().await else { return };
        suite::voice::replace_is_compare_and_set(&r).await;
    }

    #[tokio::test]
    async fn voice_states_of_a_session() {
        let Some(r) = redis().await else { return };
        suite::voice::states_of_a_session(&r).await;
    }

    /// Two stores on the same server (two gateway nodes) see each other's
    /// events and sessions.
    #[tokio::test]
    async fn two_nodes_share_state() {
        let Some((url, prefix)) = target() else {
            return;
        };
        let a = RedisStore::connect_with(&url, &prefix, CAPACITY)
            .await
            .unwrap();
        let b = RedisStore::connect_with(&url, &prefix, CAPACITY)
            .await
            .unwrap();
        let topic = Topic::Guild(discord_proto::Snowflake::new(suite::namespace()));
        let mut sub = b.subscriber().await.unwrap();
        sub.subscribe(&topic).await.unwrap();
        a.publish(&topic, Bytes::from_static(b"hello"))
            .await
            .unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .unwrap();
        assert_eq!(got, Some((topic, Bytes::from_static(b"hello"))));

        use discord_store::SessionStore;
        use discord_store::session::{Replay, SessionRecord};
        let rec = SessionRecord {
            session_id: "shared".into(),
            user_id: discord_proto::Snowflake::new(1),
            intents: 1,
            shard: [0, 1],
            seq: 0,
            node_id: Some("a".into()),
        };
        a.save(&rec, Duration::from_secs(60)).await.unwrap();
        a.append("shared", 1, "{}".into(), Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            b.replay_after("shared", 0).await.unwrap(),
            Replay::Events(vec![(1, "{}".into())])
        );
    }

    /// A session's record, not yet connected anywhere.
    fn record(id: &str) -> discord_store::session::SessionRecord {
        discord_store::session::SessionRecord {
            session_id: id.to_owned(),
            user_id: discord_proto::Snowflake::new(1),
            intents: 1,
            shard: [0, 1],
            seq: 0,
            node_id: None,
        }
    }

    /// Every recipient of an event logs the same payload: Redis keeps it
    /// once (by content, so also across pipelines and nodes), each
    /// session's log holds references, and a replay resolves them. A
    /// payload gone (expired) makes the replay a gap, not a shorter replay;
    /// entries written inline by earlier versions still replay.
    #[tokio::test]
    async fn replay_logs_keep_each_payload_once() {
        use discord_store::SessionStore;
        use discord_store::session::{LogBatch, Replay};
        use std::sync::Arc;

        let Some((url, prefix)) = target() else {
            return;
        };
        let store = RedisStore::connect_with(&url, &prefix, CAPACITY)
            .await
            .unwrap();
        let ttl = Duration::from_secs(60);
        let ids: Vec<String> = (0..20).map(|i| format!("once{i}")).collect();
        for id in &ids {
            store.save(&record(id), ttl).await.unwrap();
        }
        let events: Vec<Arc<str>> = (1..=3)
            .map(|i| format!("{{\"event\":{i}}}").into())
            .collect();
        let mut batch = LogBatch::default();
        for id in &ids[..10] {
            batch.push(id, (1..).zip(events.iter().cloned()));
        }
        store.append_batch(batch, ttl).await.unwrap();
        // The other ten in a second pipeline, with copies of the payloads.
        let mut batch = LogBatch::default();
        for id in &ids[10..] {
            batch.push(id, (1..).zip(events.iter().map(|e| Arc::from(&**e))));
        }
        store.append_batch(batch, ttl).await.unwrap();

        let mut conn = raw(&url).await;
        let payload_keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}p:*"))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(payload_keys.len(), 3, "one copy per distinct payload");
        let expected: Vec<(u64, String)> =
            (1..).zip(events.iter().map(|e| e.to_string())).collect();
        for id in &ids {
            assert_eq!(
                store.replay_after(id, 0).await.unwrap(),
                Replay::Events(expected.clone()),
                "{id}"
            );
            assert_eq!(store.get(id).await.unwrap().unwrap().seq, 3, "{id}");
        }

        // An entry as earlier versions wrote it, the payload inline.
        let legacy_log = format!("{prefix}session:{}:log", ids[0]);
        let _: i64 = redis::cmd("RPUSH")
            .arg(&legacy_log)
            .arg("4\n{\"legacy\":true}")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(
            store.replay_after(&ids[0], 2).await.unwrap(),
            Replay::Events(vec![
                (3, events[2].to_string()),
                (4, "{\"legacy\":true}".into())
            ])
        );
        assert_eq!(store.get(&ids[0]).await.unwrap().unwrap().seq, 4);

        // The second event's payload expires: a replay that needs it is a
        // gap; one after it still replays.
        let second = format!("{prefix}p:{}", {
            let entries: Vec<String> = redis::cmd("LRANGE")
                .arg(format!("{prefix}session:{}:log", ids[1]))
                .arg(1)
                .arg(1)
                .query_async(&mut conn)
                .await
                .unwrap();
            entries[0].split_once(' ').unwrap().1.to_owned()
        });
        let removed: i64 = redis::cmd("DEL")
            .arg(&second)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(removed, 1);
        assert_eq!(store.replay_after(&ids[1], 0).await.unwrap(), Replay::Gap);
        assert_eq!(store.replay_after(&ids[1], 1).await.unwrap(), Replay::Gap);
        assert_eq!(
            store.replay_after(&ids[1], 2).await.unwrap(),
            Replay::Events(vec![(3, events[2].to_string())])
        );
    }

    /// A replay reads the log's tail first and the whole log only when the
    /// tail does not reach back far enough: both give the same events.
    #[tokio::test]
    async fn replays_from_deep_in_a_long_log() {
        use discord_store::SessionStore;
        use discord_store::session::Replay;

        let Some((store, _, _)) = bounded_to_100().await else {
            return;
        };
        let ttl = Duration::from_secs(60);
        store.save(&record("long"), ttl).await.unwrap();
        let entries: Vec<(u64, std::sync::Arc<str>)> =
            (1..=150).map(|s| (s, format!("e{s}").into())).collect();
        for chunk in entries.chunks(25) {
            store
                .append_many("long", chunk.to_vec(), ttl)
                .await
                .unwrap();
        }
        let events = |from: u64| -> Replay {
            Replay::Events((from..=150).map(|s| (s, format!("e{s}"))).collect())
        };
        // The last 100 are kept: 51-150.
        assert_eq!(store.replay_after("long", 140).await.unwrap(), events(141));
        assert_eq!(store.replay_after("long", 86).await.unwrap(), events(87));
        assert_eq!(store.replay_after("long", 60).await.unwrap(), events(61));
        assert_eq!(store.replay_after("long", 50).await.unwrap(), events(51));
        assert_eq!(store.replay_after("long", 49).await.unwrap(), Replay::Gap);
        assert_eq!(store.replay_after("long", 10).await.unwrap(), Replay::Gap);
        assert_eq!(store.replay_after("long", 150).await.unwrap(), events(151));
        assert_eq!(store.replay_after("long", 151).await.unwrap(), Replay::Gap);
    }

    /// Most appends only push: a session's list is trimmed, and its
    /// expiry and its record's renewed, by appends that hold one of its
    /// first 64 numbers or a multiple of 64. The list then runs up to 63
    /// entries past the bound between trims, and a replay still reads no
    /// further back than the bound.
    #[tokio::test]
    async fn lists_are_trimmed_every_64_and_replays_keep_to_the_bound() {
        use discord_store::SessionStore;
        use discord_store::session::Replay;
        use std::sync::Arc;

        let Some((store, url, prefix)) = bounded_to_100().await else {
            return;
        };
        let mut conn = raw(&url).await;
        let (hash, log) = (
            format!("{prefix}session:trim"),
            format!("{prefix}session:trim:log"),
        );
        let short = Duration::from_secs(60);
        let long = Duration::from_secs(600);
        store.save(&record("trim"), short).await.unwrap();
        let append = async |seq: u64, ttl| {
            let entry: Arc<str> = format!("e{seq}").into();
            store.append("trim", seq, entry, ttl).await.unwrap();
        };
        let pttl = async |conn: &mut redis::aio::MultiplexedConnection, key: &str| -> i64 {
            redis::cmd("PTTL").arg(key).query_async(conn).await.unwrap()
        };
        let mut longest = 0;
        for seq in 1..=200 {
            append(seq, short).await;
            let len: usize = redis::cmd("LLEN")
                .arg(&log)
                .query_async(&mut conn)
                .await
                .unwrap();
            longest = longest.max(len);
        }
        assert_eq!(longest, 163, "the bound and 63 more, just before a trim");
        // Trimmed at 192 to 93-192, then 193-200 pushed: 108 entries, of
        // which the last 100 (101-200) are the log.
        let events = |from: u64| -> Replay {
            Replay::Events((from..=200).map(|s| (s, format!("e{s}"))).collect())
        };
        assert_eq!(store.replay_after("trim", 100).await.unwrap(), events(101));
        assert_eq!(store.replay_after("trim", 150).await.unwrap(), events(151));
        assert_eq!(store.replay_after("trim", 99).await.unwrap(), Replay::Gap);
        assert_eq!(store.replay_after("trim", 94).await.unwrap(), Replay::Gap);
        assert_eq!(store.get("trim").await.unwrap().unwrap().seq, 200);

        // An append that does not renew leaves the expiry as it was...
        append(201, long).await;
        for key in [&hash, &log] {
            let ms = pttl(&mut conn, key).await;
            assert!(0 < ms && ms <= 60_000, "{key}: {ms} ms");
        }
        // ...and one at a multiple of 64 renews both.
        for seq in 202..=256 {
            append(seq, long).await;
        }
        for key in [&hash, &log] {
            let ms = pttl(&mut conn, key).await;
            assert!(ms > 60_000, "{key}: {ms} ms");
        }
        // A list that an append makes (no save before it) has an expiry.
        store
            .append("unsaved", 2, "e2".into(), short)
            .await
            .unwrap();
        let ms = pttl(&mut conn, &format!("{prefix}session:unsaved:log")).await;
        assert!(0 < ms && ms <= 60_000, "{ms} ms");
    }

    /// A log entry that cannot be read (written by something other than
    /// this store) makes a replay a gap, so that the client identifies
    /// again, not an error, which a gateway answers with a resumable
    /// INVALID_SESSION that would meet the same entry again. The record
    /// still reads, with its saved sequence number.
    #[tokio::test]
    async fn an_unreadable_log_is_a_gap() {
        use discord_store::SessionStore;
        use discord_store::session::Replay;

        let Some((store, url, prefix)) = bounded_to_100().await else {
            return;
        };
        let ttl = Duration::from_secs(60);
        let mut saved = record("garbled");
        saved.seq = 3;
        store.save(&saved, ttl).await.unwrap();
        for seq in 1..=3 {
            store
                .append("garbled", seq, format!("e{seq}").into(), ttl)
                .await
                .unwrap();
        }
        assert_eq!(
            store.replay_after("garbled", 1).await.unwrap(),
            Replay::Events(vec![(2, "e2".into()), (3, "e3".into())])
        );
        let mut conn = raw(&url).await;
        let _: i64 = redis::cmd("RPUSH")
            .arg(format!("{prefix}session:garbled:log"))
            .arg("not an entry")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(store.replay_after("garbled", 1).await.unwrap(), Replay::Gap);
        assert_eq!(store.get("garbled").await.unwrap().unwrap().seq, 3);
    }

    /// A server that cannot be reached is a typed Unavailable error.
    #[tokio::test]
    async fn unreachable_server_is_unavailable() {
        if suite::service_url("redis", "REDIS_URL").is_none() {
            return;
        }
        let err = RedisStore::connect("redis://127.0.0.1:1/")
            .await
            .unwrap_err();
        assert!(err.is_unavailable(), "{err}");
    }
}

#[cfg(not(feature = "redis"))]
#[test]
fn redis_feature_disabled() {
    let required = std::env::var("DISCORD_STORE_REQUIRE").unwrap_or_default();
    assert!(
        !required.split(',').any(|b| b.trim() == "redis"),
        "redis suite required but discord-store was built without the `redis` feature"
    );
    suite::loud_skip("the redis suite needs the `redis` feature");
}
