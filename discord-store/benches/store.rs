//! Store throughput and latency, through the traits, as a bench binary
//! (criterion's statistics suit nanosecond loops; these are database round
//! trips measured by count and percentile).
//!
//! `cargo bench -p discord-store --all-features --bench store`
//!
//! - SQLite (embedded default) always; PostgreSQL, Redis and Kafka when
//!   `POSTGRES_URL`, `REDIS_URL`, `KAFKA_BROKERS` are set.
//! - `BENCH_MESSAGES` (default 1,000,000) sets the table size for the
//!   history-page measurement.

#![allow(missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use discord_proto::Snowflake;
use discord_snowflake::Generator;
use discord_store::MessageStore;
use discord_store::backend::sql::{Durability, SqlStore};
use discord_store::message::{HistoryAnchor, HistoryQuery, MessageRecord};

const CHANNELS: u64 = 1000;

/// A drain's resumes on Redis: 1,000 sessions, each with a full replay log
/// of 1,000 events (all of them sent to every session), each resuming a
/// few events behind, 16 at a time.
#[cfg(feature = "redis")]
async fn bench_resumes(r: &Arc<discord_store::backend::redis::RedisStore>) {
    use discord_store::SessionStore;
    use discord_store::session::{LogBatch, Replay, SessionRecord};
    const SESSIONS: u64 = 1000;
    const EVENTS: u64 = 1000;
    let ttl = Duration::from_secs(120);
    let ids: Vec<String> = (0..SESSIONS).map(|i| format!("bench-resume-{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        let rec = SessionRecord {
            session_id: id.clone(),
            user_id: Snowflake::new(i as u64 + 1),
            intents: 1,
            shard: [0, 1],
            seq: 0,
            node_id: None,
        };
        r.save(&rec, ttl).await.unwrap();
    }
    let start = Instant::now();
    for first in (1..=EVENTS).step_by(10) {
        let events: Vec<Arc<str>> = (first..first + 10)
            .map(|s| {
                format!(
                    "{s:020}MESSAGE_CREATE {{\"content\":\"{}\"}}",
                    "x".repeat(400)
                )
                .into()
            })
            .collect();
        for chunk in ids.chunks(128) {
            let mut batch = LogBatch::default();
            for id in chunk {
                batch.push_run(id, first, events.iter());
            }
            r.append_batch(batch, ttl).await.unwrap();
        }
    }
    let logged = start.elapsed().as_secs_f64();
    println!(
        "redis: replay logs, {SESSIONS} sessions x {EVENTS} events logged in batches of 128 sessions: {:.0} entries/s",
        (SESSIONS * EVENTS) as f64 / logged
    );
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..16 {
        let r = Arc::clone(r);
        let mine: Vec<String> = ids.iter().skip(t).step_by(16).cloned().collect();
        tasks.push(tokio::spawn(async move {
            for id in mine {
                let Replay::Events(events) = r.replay_after(&id, EVENTS - 5).await.unwrap() else {
                    panic!("replay of {id}");
                };
                assert_eq!(events.len(), 5);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "redis: resumes 5 events behind, 16 tasks: {:.0}/s ({SESSIONS} in {:.0} ms)",
        SESSIONS as f64 / secs,
        secs * 1000.0
    );
    for id in &ids {
        r.delete(id).await.unwrap();
    }
}

fn message(ids: &Generator, channel: u64, i: u64) -> MessageRecord {
    let mut m = MessageRecord::new(
        ids.next_id(),
        Snowflake::new(1_000_000 + channel),
        Snowflake::new(42 + i % 97),
        format!("message number {i} with some typical chat text in it"),
    );
    m.guild_id = Some(Snowflake::new(7));
    m
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn bench_messages(name: &str, store: Arc<dyn MessageStore>, table_size: u64) {
    let ids = Arc::new(Generator::new(3, 3).unwrap());

    // Acknowledged single inserts, one writer.
    let n = 20_000u64;
    let start = Instant::now();
    for i in 0..n {
        store.insert(&message(&ids, i % CHANNELS, i)).await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name}: single inserts, 1 writer: {:.0}/s ({n} in {secs:.2} s)",
        n as f64 / secs
    );

    // Acknowledged single inserts from concurrent writers (as a server with
    // many clients sending at once).
    // Three times as many as the lone writer's, so the run lasts long
    // enough to average out scheduling noise.
    let concurrent = 3 * n;
    for writers in [8u64, 64] {
        let start = Instant::now();
        let mut tasks = Vec::new();
        for t in 0..writers {
            let store = Arc::clone(&store);
            let ids = Arc::clone(&ids);
            tasks.push(tokio::spawn(async move {
                for i in 0..concurrent / writers {
                    store
                        .insert(&message(&ids, (t * 131 + i) % CHANNELS, i))
                        .await
                        .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{name}: single inserts, {writers} writers: {:.0}/s",
            (concurrent / writers * writers) as f64 / secs
        );
    }

    // Batched inserts, 1000 per batch, each batch one channel's messages
    // (an import or backfill: rows land together at the end of a channel).
    let batch = 1000u64;
    let mut inserted = n + 2 * concurrent;
    let local = 200_000u64.min(table_size.saturating_sub(inserted));
    let start = Instant::now();
    for b in 0..local / batch {
        let rows: Vec<MessageRecord> = (0..batch)
            .map(|i| message(&ids, b % CHANNELS, inserted + i))
            .collect();
        store.insert_batch(&rows).await.unwrap();
        inserted += batch;
    }
    if local >= batch {
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{name}: batched inserts (1000/batch, one channel a batch): {:.0}/s ({} rows)",
            (local / batch * batch) as f64 / secs,
            local / batch * batch
        );
    }

    // Batched inserts (1000 per batch, spread over every channel) until the
    // table holds `table_size`.
    let start = Instant::now();
    let mut batched = 0u64;
    while inserted < table_size {
        let rows: Vec<MessageRecord> = (0..batch)
            .map(|i| message(&ids, (inserted + i) % CHANNELS, inserted + i))
            .collect();
        store.insert_batch(&rows).await.unwrap();
        inserted += batch;
        batched += batch;
    }
    let secs = start.elapsed().as_secs_f64();
    if batched > 0 {
        println!(
            "{name}: batched inserts (1000/batch, spread over {CHANNELS} channels): {:.0}/s ({batched} rows)",
            batched as f64 / secs
        );
    }

    // History pages of 50 at random anchors in random channels: right
    // after the fill (the background checkpoint still copying the WAL
    // into the database), then once it is quiet.
    let newest = ids.next_id();
    let span = newest.get()
        - Snowflake::from_timestamp_ms(newest.timestamp_ms() - (secs as u64 + 60) * 1000)
            .unwrap()
            .get();
    pages(
        name,
        &*store,
        newest,
        span,
        inserted,
        "right after the fill",
    )
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    pages(name, &*store, newest, span, inserted, "5 s later").await;
}

/// Times 5,000 history pages of 50, `before` random IDs of the last `span`
/// snowflake units up to `newest`, in random channels.
async fn pages(
    name: &str,
    store: &dyn MessageStore,
    newest: Snowflake,
    span: u64,
    inserted: u64,
    when: &str,
) {
    let mut lat = Vec::new();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..5_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let channel = Snowflake::new(1_000_000 + x % CHANNELS);
        let anchor = Snowflake::new(newest.get() - (x >> 11) % span);
        let t = Instant::now();
        let page = store
            .history(
                channel,
                HistoryQuery {
                    anchor: HistoryAnchor::Before(anchor),
                    limit: 50,
                },
            )
            .await
            .unwrap();
        lat.push(t.elapsed());
        std::hint::black_box(page);
    }
    lat.sort();
    println!(
        "{name}: history page of 50 with {inserted} messages, {when}: p50 {:?}, p99 {:?}",
        pct(&lat, 0.5),
        pct(&lat, 0.99)
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let table_size: u64 = std::env::var("BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);

    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqlStore::open_sqlite(&dir.path().join("bench.sqlite3"), Durability::Process)
        .await
        .unwrap();
    bench_messages("sqlite", Arc::new(sqlite), table_size).await;

    #[cfg(feature = "postgres")]
    if let Ok(url) = std::env::var("POSTGRES_URL") {
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        use sqlx::Executor;
        pool.execute(
            "DROP SCHEMA IF EXISTS discord_store_bench CASCADE; CREATE SCHEMA discord_store_bench",
        )
        .await
        .unwrap();
        let sep = if url.contains('?') { '&' } else { '?' };
        let pg = SqlStore::connect(&format!(
            "{url}{sep}options=-c%20search_path%3Ddiscord_store_bench"
        ))
        .await
        .unwrap();
        bench_messages("postgres", Arc::new(pg), table_size.min(1_000_000)).await;
    }

    #[cfg(feature = "redis")]
    if let Ok(url) = std::env::var("REDIS_URL") {
        use discord_proto::model::{ClientStatus, Status};
        use discord_store::PresenceStore;
        use discord_store::presence::PresenceRecord;
        let r = Arc::new(
            discord_store::backend::redis::RedisStore::connect_with(&url, "dstore-bench:", 1000)
                .await
                .unwrap(),
        );
        let p = PresenceRecord {
            status: Status::Online,
            activities: vec![],
            client_status: ClientStatus::default(),
        };
        let n = 50_000u64;
        let start = Instant::now();
        let mut tasks = Vec::new();
        for t in 0..16u64 {
            let r = Arc::clone(&r);
            let p = p.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..n / 16 {
                    r.set(
                        Snowflake::new(t * 1_000_000 + i),
                        &p,
                        Duration::from_secs(60),
                    )
                    .await
                    .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "redis: presence updates, 16 tasks: {:.0}/s",
            n as f64 / secs
        );
        bench_resumes(&r).await;
    }

    #[cfg(feature = "kafka")]
    if let Ok(brokers) = std::env::var("KAFKA_BROKERS") {
        use discord_store::{BusEvent, EventBus};
        let topic = format!("message_events_bench_{}", std::process::id());
        let bus = Arc::new(
            discord_store::backend::kafka::KafkaBus::connect_with(
                &brokers,
                &topic,
                4,
                Duration::from_secs(6),
            )
            .await
            .unwrap(),
        );
        let n = 20_000u64;
        let start = Instant::now();
        let mut tasks = Vec::new();
        for t in 0..32u64 {
            let bus = Arc::clone(&bus);
            tasks.push(tokio::spawn(async move {
                for i in 0..n / 32 {
                    bus.publish(&BusEvent {
                        channel_id: Snowflake::new(t * 7 + i % 5),
                        kind: "MESSAGE_CREATE".into(),
                        payload: bytes::Bytes::from_static(b"{\"id\":\"1\",\"content\":\"hello\"}"),
                    })
                    .await
                    .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "kafka: acknowledged publishes, 32 tasks: {:.0}/s",
            n as f64 / secs
        );
        let mut consumer = bus.consumer("bench").await.unwrap();
        let start = Instant::now();
        let mut got = 0;
        while got < n {
            if consumer
                .next(Duration::from_secs(10))
                .await
                .unwrap()
                .is_none()
            {
                break;
            }
            got += 1;
        }
        let secs = start.elapsed().as_secs_f64();
        println!("kafka: consumed {got} events: {:.0}/s", got as f64 / secs);
    }
}
