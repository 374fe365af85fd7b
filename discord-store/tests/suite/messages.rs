//! MessageStore behaviours.

use std::sync::Arc;

use discord_proto::Snowflake;
use discord_proto::model::Timestamp;
use discord_snowflake::Generator;
use discord_store::message::{HistoryAnchor, HistoryQuery, InsertOutcome, MessageRecord};
use discord_store::{MessageStore, StoreError};

use super::{id_at, namespace};

const DAY_MS: u64 = 86_400_000;

fn msg(channel: Snowflake, id: Snowflake, author: u64, content: &str) -> MessageRecord {
    MessageRecord::new(id, channel, Snowflake::new(author), content)
}

fn ids(page: &[MessageRecord]) -> Vec<Snowflake> {
    page.iter().map(|m| m.id).collect()
}

fn q(anchor: HistoryAnchor, limit: u8) -> HistoryQuery {
    HistoryQuery { anchor, limit }
}

/// 230 messages spread over 40 days (8 default 5-day buckets, with empty
/// stretches between bursts): paging back with `before` and forward with
/// `after` sees each exactly once, in order.
pub async fn history_pages_across_buckets(store: &dyn MessageStore) {
    let channel = Snowflake::new(namespace());
    let mut all = Vec::new();
    for i in 0..230u64 {
        // Bursts every ~4 days, a gap of 10 days in the middle.
        let day = (i / 20) * 4 + if i >= 120 { 10 } else { 0 };
        let id = id_at(day * DAY_MS + i * 1000, (i % 4096) as u16);
        all.push(msg(channel, id, 1, &format!("m{i}")));
    }
    store.insert_batch(&all[..100]).await.unwrap();
    for m in &all[100..] {
        assert_eq!(store.insert(m).await.unwrap(), InsertOutcome::Inserted);
    }
    let mut expected: Vec<Snowflake> = all.iter().map(|m| m.id).collect();
    expected.sort();
    expected.reverse();

    // Backwards with `before`, 50 at a time.
    let mut seen = Vec::new();
    let mut page = store
        .history(channel, HistoryQuery::latest(50))
        .await
        .unwrap();
    while !page.is_empty() {
        seen.extend(ids(&page));
        let oldest = page.last().unwrap().id;
        page = store
            .history(channel, q(HistoryAnchor::Before(oldest), 50))
            .await
            .unwrap();
    }
    assert_eq!(seen, expected, "before-paging");

    // Forwards with `after`, 37 at a time; each page is newest first.
    let mut seen = Vec::new();
    let mut cursor = Snowflake::new(0);
    loop {
        let page = store
            .history(channel, q(HistoryAnchor::After(cursor), 37))
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        let mut page_ids = ids(&page);
        assert!(
            page_ids.windows(2).all(|w| w[0] > w[1]),
            "page newest first"
        );
        cursor = page_ids[0];
        page_ids.reverse();
        seen.extend(page_ids);
    }
    seen.reverse();
    assert_eq!(seen, expected, "after-paging");

    // Content comes back intact.
    let newest = store
        .history(channel, HistoryQuery::latest(1))
        .await
        .unwrap();
    assert_eq!(newest[0].content, "m229");
}

/// Limits, empty ends and `around`.
pub async fn history_edges(store: &dyn MessageStore) {
    let channel = Snowflake::new(namespace());
    let all: Vec<MessageRecord> = (0..11u64)
        .map(|i| msg(channel, id_at(i * 1000, 0), 1, &format!("m{i}")))
        .collect();
    store.insert_batch(&all).await.unwrap();
    let id = |i: usize| all[i].id;

    for bad in [0u8, 101, 255] {
        let err = store
            .history(channel, HistoryQuery::latest(bad))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "limit {bad}: {err}");
    }
    assert_eq!(
        ids(&store
            .history(channel, HistoryQuery::latest(1))
            .await
            .unwrap()),
        vec![id(10)]
    );
    assert_eq!(
        store
            .history(channel, HistoryQuery::latest(100))
            .await
            .unwrap()
            .len(),
        11
    );
    assert!(
        store
            .history(channel, q(HistoryAnchor::Before(id(0)), 10))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .history(channel, q(HistoryAnchor::After(id(10)), 10))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(&store
            .history(channel, q(HistoryAnchor::Before(id(5)), 2))
            .await
            .unwrap()),
        vec![id(4), id(3)]
    );
    assert_eq!(
        ids(&store
            .history(channel, q(HistoryAnchor::After(id(5)), 2))
            .await
            .unwrap()),
        vec![id(7), id(6)],
        "after returns the messages closest to the anchor, newest first"
    );
    // Around an existing message: it, two newer, two older.
    assert_eq!(
        ids(&store
            .history(channel, q(HistoryAnchor::Around(id(5)), 5))
            .await
            .unwrap()),
        vec![id(7), id(6), id(5), id(4), id(3)]
    );
    // Around near the end: fewer newer exist.
    assert_eq!(
        ids(&store
            .history(channel, q(HistoryAnchor::Around(id(10)), 4))
            .await
            .unwrap()),
        vec![id(10), id(9)]
    );
    // Around an ID between messages.
    let between = Snowflake::new(id(5).get() + 1);
    assert_eq!(
        ids(&store
            .history(channel, q(HistoryAnchor::Around(between), 2))
            .await
            .unwrap()),
        vec![id(6), id(5)]
    );
    // Another channel sees nothing.
    let other = Snowflake::new(namespace());
    assert!(
        store
            .history(other, HistoryQuery::latest(50))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.get(other, id(5)).await.unwrap().is_none());
}

/// Edits and deletes show up in reads.
pub async fn edit_and_delete(store: &dyn MessageStore) {
    let channel = Snowflake::new(namespace());
    let mut m = msg(channel, id_at(1, 0), 1, "before");
    m.body.mentions = vec![Snowflake::new(5)];
    store.insert(&m).await.unwrap();
    m.content = "after".into();
    m.edited_at = Some(Timestamp::from_unix_millis(1_800_000_000_000));
    m.body.pinned = true;
    store.edit(&m).await.unwrap();
    let got = store.get(channel, m.id).await.unwrap().unwrap();
    assert_eq!(got, m);
    assert_eq!(
        store
            .history(channel, HistoryQuery::latest(5))
            .await
            .unwrap()[0]
            .content,
        "after"
    );

    let ghost = msg(channel, id_at(2, 0), 1, "x");
    assert!(matches!(
        store.edit(&ghost).await,
        Err(StoreError::NotFound(_))
    ));

    assert!(store.delete(channel, m.id).await.unwrap());
    assert!(!store.delete(channel, m.id).await.unwrap());
    assert!(store.get(channel, m.id).await.unwrap().is_none());
    assert!(
        store
            .history(channel, HistoryQuery::latest(5))
            .await
            .unwrap()
            .is_empty()
    );

    // Bulk delete reports what existed.
    let batch: Vec<MessageRecord> = (0..5)
        .map(|i| msg(channel, id_at(100 + i, 0), 1, "b"))
        .collect();
    store.insert_batch(&batch).await.unwrap();
    let mut wanted: Vec<Snowflake> = batch[..3].iter().map(|m| m.id).collect();
    wanted.push(id_at(999, 0));
    let mut deleted = store.bulk_delete(channel, &wanted).await.unwrap();
    deleted.sort();
    assert_eq!(deleted, ids(&batch[..3]));
    assert_eq!(
        ids(&store
            .history(channel, HistoryQuery::latest(10))
            .await
            .unwrap()),
        vec![batch[4].id, batch[3].id]
    );
}

/// The same nonce from the same author in the same channel stores once.
pub async fn nonce_deduplication(store: &dyn MessageStore) {
    let channel = Snowflake::new(namespace());
    let mut first = msg(channel, id_at(10, 0), 1, "first");
    first.nonce = Some("abc".into());
    assert_eq!(store.insert(&first).await.unwrap(), InsertOutcome::Inserted);

    let mut retry = msg(channel, id_at(11, 0), 1, "retry");
    retry.nonce = Some("abc".into());
    match store.insert(&retry).await.unwrap() {
        InsertOutcome::Duplicate(existing) => assert_eq!(*existing, first),
        InsertOutcome::Inserted => panic!("duplicate nonce stored twice"),
    }
    // Other authors and other channels may use the same nonce.
    let mut other_author = msg(channel, id_at(12, 0), 2, "x");
    other_author.nonce = Some("abc".into());
    assert_eq!(
        store.insert(&other_author).await.unwrap(),
        InsertOutcome::Inserted
    );
    let mut other_channel = msg(Snowflake::new(namespace()), id_at(13, 0), 1, "y");
    other_channel.nonce = Some("abc".into());
    assert_eq!(
        store.insert(&other_channel).await.unwrap(),
        InsertOutcome::Inserted
    );
    // No nonce: no de-duplication.
    store
        .insert(&msg(channel, id_at(14, 0), 1, "n1"))
        .await
        .unwrap();
    store
        .insert(&msg(channel, id_at(15, 0), 1, "n2"))
        .await
        .unwrap();
    assert_eq!(
        store
            .history(channel, HistoryQuery::latest(10))
            .await
            .unwrap()
            .len(),
        4
    );
}

/// SQL backends refuse a second message with the same ID (CQL inserts are
/// upserts, so the ScyllaDB backend does not run this one).
pub async fn duplicate_id_is_conflict(store: &dyn MessageStore) {
    let channel = Snowflake::new(namespace());
    store
        .insert(&msg(channel, id_at(15, 0), 1, "first"))
        .await
        .unwrap();
    let err = store
        .insert(&msg(channel, id_at(15, 0), 1, "again"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_eq!(
        store
            .get(channel, id_at(15, 0))
            .await
            .unwrap()
            .unwrap()
            .content,
        "first"
    );
}

/// Content and nonces with quotes, backslashes, newlines, control
/// characters and non-ASCII text read back exactly, through `get` and
/// through history pages.
pub async fn text_round_trips_exactly(store: &dyn MessageStore) {
    let channel = Snowflake::new(namespace());
    let content = "quote \" backslash \\ newline \n tab \t nul-free \u{1} é 🙂 </script>";
    let mut m = msg(channel, id_at(30, 0), 1, content);
    m.nonce = Some("n\"1\\".to_owned());
    store.insert(&m).await.unwrap();
    let plain = msg(channel, id_at(31, 0), 2, "");
    store.insert(&plain).await.unwrap();
    let got = store.get(channel, m.id).await.unwrap().unwrap();
    assert_eq!(got.content, content);
    assert_eq!(got.nonce.as_deref(), Some("n\"1\\"));
    let page = store
        .history(channel, q(HistoryAnchor::Latest, 10))
        .await
        .unwrap();
    assert_eq!(ids(&page), [plain.id, m.id]);
    assert_eq!(page[1].content, content);
    assert_eq!(page[1].nonce, m.nonce);
    assert_eq!(page[0].content, "");
    assert_eq!(page[0].nonce, None);
}

/// A batch holding an ID that is already stored fails as a whole: none of
/// its rows are stored, and a single insert made at the same time is not
/// affected (SQL backends; CQL inserts are upserts).
pub async fn failed_batch_stores_nothing(store: Arc<dyn MessageStore>) {
    let channel = Snowflake::new(namespace());
    store
        .insert(&msg(channel, id_at(20, 0), 1, "stored"))
        .await
        .unwrap();
    let batch = vec![
        msg(channel, id_at(21, 0), 1, "a"),
        msg(channel, id_at(20, 0), 1, "duplicate"),
        msg(channel, id_at(22, 0), 1, "b"),
    ];
    let single = {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.insert(&msg(channel, id_at(23, 0), 2, "single")).await })
    };
    let err = store.insert_batch(&batch).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_eq!(single.await.unwrap().unwrap(), InsertOutcome::Inserted);
    let page = store
        .history(channel, q(HistoryAnchor::Latest, 100))
        .await
        .unwrap();
    assert_eq!(ids(&page), [id_at(23, 0), id_at(20, 0)]);
    assert_eq!(page[1].content, "stored");
}

/// Concurrent inserts from many tasks with one generator: all stored, IDs
/// unique, history strictly ordered.
pub async fn concurrent_inserts(store: Arc<dyn MessageStore>) {
    let channel = Snowflake::new(namespace());
    let ids = Arc::new(Generator::new(1, 1).unwrap());
    let mut tasks = Vec::new();
    for t in 0..8u64 {
        let store = Arc::clone(&store);
        let ids = Arc::clone(&ids);
        tasks.push(tokio::spawn(async move {
            for i in 0..50 {
                let m = msg(channel, ids.next_id(), t, &format!("{t}/{i}"));
                assert_eq!(store.insert(&m).await.unwrap(), InsertOutcome::Inserted);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut all = Vec::new();
    let mut anchor = HistoryAnchor::Latest;
    loop {
        let page = store.history(channel, q(anchor, 100)).await.unwrap();
        let Some(last) = page.last() else { break };
        anchor = HistoryAnchor::Before(last.id);
        all.extend(ids_of(&page));
    }
    assert_eq!(all.len(), 400);
    assert!(
        all.windows(2).all(|w| w[0] > w[1]),
        "strictly descending, no duplicates"
    );
}

/// Retries of one message racing each other (the same nonce, sent 16 times
/// at once beside 16 other messages): exactly one is stored and every retry
/// answers with it.
pub async fn concurrent_nonce_retries(store: Arc<dyn MessageStore>) {
    let channel = Snowflake::new(namespace());
    let ids = Arc::new(Generator::new(1, 2).unwrap());
    let mut tasks = Vec::new();
    for t in 0..32u64 {
        let store = Arc::clone(&store);
        let mut m = msg(channel, ids.next_id(), 5, &format!("try {t}"));
        m.nonce = Some(if t % 2 == 0 {
            "same".into()
        } else {
            format!("n{t}")
        });
        tasks.push(tokio::spawn(async move {
            let outcome = store.insert(&m).await.unwrap();
            (m, outcome)
        }));
    }
    let mut stored = Vec::new();
    let mut duplicates = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (m, InsertOutcome::Inserted) => stored.push(m),
            (m, InsertOutcome::Duplicate(first)) => duplicates.push((m, *first)),
        }
    }
    let same: Vec<&MessageRecord> = stored
        .iter()
        .filter(|m| m.nonce.as_deref() == Some("same"))
        .collect();
    assert_eq!(same.len(), 1, "one of the racing retries is stored");
    assert_eq!(stored.len(), 17);
    assert_eq!(duplicates.len(), 15);
    for (retry, first) in &duplicates {
        assert_eq!(retry.nonce.as_deref(), Some("same"));
        assert_eq!(first, same[0], "every retry answers with the stored one");
    }
    let page = store
        .history(channel, q(HistoryAnchor::Latest, 100))
        .await
        .unwrap();
    assert_eq!(page.len(), 17);
}

fn ids_of(page: &[MessageRecord]) -> Vec<Snowflake> {
    ids(page)
}

/// Reactions: add once, count, list users, remove.
pub async fn reactions(store: &dyn MessageStore) {
    let channel = Snowflake::new(namespace());
    let m = msg(channel, id_at(20, 0), 1, "react to me");
    store.insert(&m).await.unwrap();
    assert!(
        store
            .add_reaction(channel, m.id, "👍", Snowflake::new(7))
            .await
            .unwrap()
    );
    assert!(
        !store
            .add_reaction(channel, m.id, "👍", Snowflake::new(7))
            .await
            .unwrap()
    );
    assert!(
        store
            .add_reaction(channel, m.id, "👍", Snowflake::new(3))
            .await
            .unwrap()
    );
    assert!(
        store
            .add_reaction(channel, m.id, "blob:123", Snowflake::new(7))
            .await
            .unwrap()
    );
    let counts = store.reactions(channel, m.id).await.unwrap();
    assert_eq!(counts.len(), 2);
    assert_eq!((counts[0].emoji.as_str(), counts[0].count), ("👍", 2));
    assert_eq!((counts[1].emoji.as_str(), counts[1].count), ("blob:123", 1));
    assert_eq!(
        store
            .reaction_users(channel, m.id, "👍", None, 100)
            .await
            .unwrap(),
        vec![Snowflake::new(3), Snowflake::new(7)]
    );
    assert_eq!(
        store
            .reaction_users(channel, m.id, "👍", Some(Snowflake::new(3)), 100)
            .await
            .unwrap(),
        vec![Snowflake::new(7)]
    );
    assert!(
        store
            .remove_reaction(channel, m.id, "👍", Snowflake::new(7))
            .await
            .unwrap()
    );
    assert!(
        !store
            .remove_reaction(channel, m.id, "👍", Snowflake::new(7))
            .await
            .unwrap()
    );
    assert_eq!(store.reactions(channel, m.id).await.unwrap()[0].count, 1);
    // Reacting to a missing message is NotFound.
    let err = store
        .add_reaction(channel, id_at(21, 0), "👍", Snowflake::new(7))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err}");
    // Deleting the message deletes its reactions.
    store.delete(channel, m.id).await.unwrap();
    assert!(store.reactions(channel, m.id).await.unwrap().is_empty());
}

/// Reactions of a page of messages at once, as one viewer sees them: the
/// same counts and order as per-message reads, `me` for the viewer, and
/// nothing for messages outside the page or without reactions.
pub async fn reaction_summaries(store: &dyn MessageStore) {
    let channel = Snowflake::new(namespace());
    let msgs: Vec<MessageRecord> = (0..4)
        .map(|i| msg(channel, id_at(30 + i, 0), 1, "page"))
        .collect();
    for m in &msgs {
        store.insert(m).await.unwrap();
    }
    let (viewer, other) = (Snowflake::new(7), Snowflake::new(8));
    store
        .add_reaction(channel, msgs[0].id, "👍", other)
        .await
        .unwrap();
    store
        .add_reaction(channel, msgs[0].id, "👍", viewer)
        .await
        .unwrap();
    store
        .add_reaction(channel, msgs[0].id, "🎉", other)
        .await
        .unwrap();
    store
        .add_reaction(channel, msgs[2].id, "🎉", other)
        .await
        .unwrap();
    // Outside the asked-for set, though inside its ID range.
    store
        .add_reaction(channel, msgs[1].id, "👀", viewer)
        .await
        .unwrap();
    let page = [msgs[0].id, msgs[2].id, msgs[3].id];
    let got = store
        .reaction_summaries(channel, &page, viewer)
        .await
        .unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
    let first = &got[&msgs[0].id];
    let per_message = store.reactions(channel, msgs[0].id).await.unwrap();
    assert_eq!(
        first.iter().map(|s| s.count.clone()).collect::<Vec<_>>(),
        per_message
    );
    assert_eq!(
        first.iter().map(|s| s.me).collect::<Vec<_>>(),
        [true, false]
    );
    let third = &got[&msgs[2].id];
    assert_eq!(
        (
            third[0].count.emoji.as_str(),
            third[0].count.count,
            third[0].me
        ),
        ("🎉", 1, false)
    );
    assert!(
        store
            .reaction_summaries(channel, &[], viewer)
            .await
            .unwrap()
            .is_empty()
    );
}
