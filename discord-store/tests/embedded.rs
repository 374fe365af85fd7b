//! The conformance suite against the embedded default: SQLite for messages,
//! guild data and the event bus; memory for presence, sessions and pub/sub;
//! local files for blobs.

mod suite;

use std::sync::Arc;

use discord_proto::Snowflake;
use discord_store::backend::memory::{MemoryPresence, MemoryPubSub, MemorySessions};
use discord_store::backend::sql::{Durability, SqlStore};
use discord_store::message::{HistoryQuery, MessageRecord};
use discord_store::{BusEvent, EventBus, MessageStore, ObjectBlobStore, Stores};

async fn sqlite() -> (SqlStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open_sqlite(&dir.path().join("test.sqlite3"), Durability::Process)
        .await
        .unwrap();
    (store, dir)
}

#[tokio::test]
async fn history_pages_across_buckets() {
    let (s, _d) = sqlite().await;
    suite::messages::history_pages_across_buckets(&s).await;
}

#[tokio::test]
async fn history_edges() {
    let (s, _d) = sqlite().await;
    suite::messages::history_edges(&s).await;
}

#[tokio::test]
async fn edit_and_delete() {
    let (s, _d) = sqlite().await;
    suite::messages::edit_and_delete(&s).await;
}

#[tokio::test]
async fn nonce_deduplication() {
    let (s, _d) = sqlite().await;
    suite::messages::nonce_deduplication(&s).await;
}

#[tokio::test]
async fn duplicate_id_is_conflict() {
    let (s, _d) = sqlite().await;
    suite::messages::duplicate_id_is_conflict(&s).await;
}

#[tokio::test]
async fn text_round_trips_exactly() {
    let (s, _d) = sqlite().await;
    suite::messages::text_round_trips_exactly(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_batch_stores_nothing() {
    let (s, _d) = sqlite().await;
    suite::messages::failed_batch_stores_nothing(Arc::new(s)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_inserts() {
    let (s, _d) = sqlite().await;
    suite::messages::concurrent_inserts(Arc::new(s)).await;
}

#[tokio::test]
async fn concurrent_nonce_retries() {
    let (s, _d) = sqlite().await;
    suite::messages::concurrent_nonce_retries(Arc::new(s)).await;
}

#[tokio::test]
async fn reactions() {
    let (s, _d) = sqlite().await;
    suite::messages::reactions(&s).await;
}

#[tokio::test]
async fn reaction_summaries() {
    let (s, _d) = sqlite().await;
    suite::messages::reaction_summaries(&s).await;
}

#[tokio::test]
async fn users_and_tokens() {
    let (s, _d) = sqlite().await;
    suite::guilds::users_and_tokens(&s).await;
}

#[tokio::test]
async fn applications() {
    let (s, _d) = sqlite().await;
    suite::guilds::applications(&s).await;
}

#[tokio::test]
async fn guild_lifecycle() {
    let (s, _d) = sqlite().await;
    suite::guilds::guild_lifecycle(&s).await;
}

#[tokio::test]
async fn channels() {
    let (s, _d) = sqlite().await;
    suite::guilds::channels(&s).await;
}

#[tokio::test]
async fn members_and_roles() {
    let (s, _d) = sqlite().await;
    suite::guilds::members_and_roles(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invites() {
    let (s, _d) = sqlite().await;
    suite::guilds::invites(Arc::new(s)).await;
}

#[tokio::test]
async fn presence_expiry() {
    suite::live::presence_expiry(&MemoryPresence::new()).await;
}

#[tokio::test]
async fn sessions_and_replay() {
    suite::live::sessions_and_replay(&MemorySessions::new(50), 50).await;
}

#[tokio::test]
async fn batch_append() {
    suite::live::batch_append(&MemorySessions::new(50), 50).await;
}

#[tokio::test]
async fn session_expiry() {
    suite::live::session_expiry(&MemorySessions::new(50)).await;
}

#[tokio::test]
async fn log_handles() {
    suite::live::log_handles(&MemorySessions::new(50)).await;
}

#[tokio::test]
async fn pubsub_delivery() {
    suite::live::pubsub_delivery(&MemoryPubSub::new()).await;
}

#[tokio::test]
async fn bus_order_and_resume() {
    let (s, _d) = sqlite().await;
    suite::bus::bus_order_and_resume(&s).await;
}

#[tokio::test]
async fn blob_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    suite::bus::blob_round_trip(&ObjectBlobStore::local(dir.path()).unwrap()).await;
}

/// An acknowledged message survives closing and reopening the database (a
/// process restart), and so do committed bus offsets.
#[tokio::test]
async fn acknowledged_writes_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("restart.sqlite3");
    let channel = Snowflake::new(77);
    {
        let s = SqlStore::open_sqlite(&path, Durability::Process)
            .await
            .unwrap();
        for i in 1..=100u64 {
            let m = MessageRecord::new(
                Snowflake::new(i << 22),
                channel,
                Snowflake::new(1),
                format!("m{i}"),
            );
            s.insert(&m).await.unwrap();
        }
        s.publish(&BusEvent {
            channel_id: channel,
            kind: "MESSAGE_CREATE".into(),
            payload: "1".into(),
        })
        .await
        .unwrap();
        s.publish(&BusEvent {
            channel_id: channel,
            kind: "MESSAGE_CREATE".into(),
            payload: "2".into(),
        })
        .await
        .unwrap();
        let mut c = s.consumer("indexer").await.unwrap();
        let first = c
            .next(std::time::Duration::from_secs(5))
            .await
            .unwrap()
            .unwrap();
        c.commit(&first).await.unwrap();
        // Dropped without closing, as a crash would.
    }
    let s = SqlStore::open_sqlite(&path, Durability::Process)
        .await
        .unwrap();
    let page = s.history(channel, HistoryQuery::latest(100)).await.unwrap();
    assert_eq!(page.len(), 100);
    assert_eq!(page[0].content, "m100");
    let mut c = s.consumer("indexer").await.unwrap();
    let next = c
        .next(std::time::Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.event.payload.as_ref(), b"2");
}

/// Reads run on the caller's thread on their own read-only connections
/// (under `block_in_place` on a multi-threaded runtime): every insert that
/// was acknowledged is visible to the next `get` and history page, from
/// many tasks at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_inserts_are_read_back_at_once_from_many_tasks() {
    let (s, _d) = sqlite().await;
    let s = Arc::new(s);
    let mut tasks = Vec::new();
    for t in 0..16u64 {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            let channel = Snowflake::new(1_000 + t);
            for i in 1..=50u64 {
                let id = Snowflake::new(((i * 16 + t) << 22) | t);
                let m = MessageRecord::new(id, channel, Snowflake::new(1), format!("{t}/{i}"));
                s.insert(&m).await.unwrap();
                let got = s.get(channel, id).await.unwrap().expect("acknowledged");
                assert_eq!(got.content, format!("{t}/{i}"));
                let page = s.history(channel, HistoryQuery::latest(100)).await.unwrap();
                assert_eq!(page.len() as u64, i, "task {t}: every insert so far");
                assert_eq!(page[0].id, id, "task {t}: newest first");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

/// The bundle the server uses opens under a data directory.
#[tokio::test]
async fn embedded_bundle_opens() {
    let dir = tempfile::tempdir().unwrap();
    let stores = Stores::embedded(dir.path()).await.unwrap();
    let m = MessageRecord::new(
        Snowflake::new(5 << 22),
        Snowflake::new(9),
        Snowflake::new(1),
        "x",
    );
    stores.messages.insert(&m).await.unwrap();
    assert!(dir.path().join("discord.sqlite3").exists());
    assert!(
        dir.path().join("discord.sqlite3-wal").exists(),
        "WAL mode is on"
    );
    suite::bus::blob_round_trip(stores.blobs.as_ref()).await;
}

mod voice_states {
    use std::sync::Arc;

    use discord_store::backend::memory::MemoryVoiceStates;

    use super::suite;

    #[tokio::test]
    async fn join_move_leave() {
        suite::voice::join_move_leave(&MemoryVoiceStates::new()).await;
    }

    #[tokio::test]
    async fn channel_limit() {
        suite::voice::channel_limit(&MemoryVoiceStates::new()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_joins_respect_the_limit() {
        suite::voice::concurrent_joins_respect_the_limit(Arc::new(MemoryVoiceStates::new())).await;
    }

    #[tokio::test]
    async fn replace_is_compare_and_set() {
        suite::voice::replace_is_compare_and_set(&MemoryVoiceStates::new()).await;
    }

    #[tokio::test]
    async fn states_of_a_session() {
        suite::voice::states_of_a_session(&MemoryVoiceStates::new()).await;
    }
}
