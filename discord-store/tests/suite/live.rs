//! Presence, session and pub/sub behaviours.

use std::time::Duration;

use bytes::Bytes;
use discord_proto::Snowflake;
use discord_proto::model::{Activity, ClientStatus, Status};
use discord_store::presence::PresenceRecord;
use discord_store::session::{Replay, SessionRecord};
use discord_store::{LogBatch, PresenceStore, PubSub, SessionStore, Topic};

use super::namespace;

fn online() -> PresenceRecord {
    PresenceRecord {
        status: Status::Online,
        activities: vec![Activity::new("chess", 0)],
        client_status: ClientStatus {
            desktop: Some(Status::Online),
            ..Default::default()
        },
    }
}

/// Presence reads back until its TTL passes, then reads as offline and is
/// swept exactly once.
pub async fn presence_expiry(store: &dyn PresenceStore) {
    let a = Snowflake::new(namespace());
    let b = Snowflake::new(namespace());
    store
        .set(a, &online(), Duration::from_millis(300))
        .await
        .unwrap();
    store
        .set(b, &online(), Duration::from_secs(60))
        .await
        .unwrap();
    let got = store.get_many(&[a, b, Snowflake::new(1)]).await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got.iter().find(|(id, _)| *id == a).unwrap().1, online());

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let got = store.get_many(&[a, b]).await.unwrap();
    assert_eq!(got.iter().map(|(id, _)| *id).collect::<Vec<_>>(), vec![b]);
    let swept = store.sweep_expired().await.unwrap();
    assert!(swept.contains(&a), "expired user reported: {swept:?}");
    assert!(!swept.contains(&b));
    assert!(
        !store.sweep_expired().await.unwrap().contains(&a),
        "reported once"
    );

    // Refreshing keeps it alive; remove is immediate.
    assert!(store.remove(b).await.unwrap());
    assert!(!store.remove(b).await.unwrap());
    assert!(store.get_many(&[b]).await.unwrap().is_empty());
}

fn session(id: &str) -> SessionRecord {
    SessionRecord {
        session_id: id.to_owned(),
        user_id: Snowflake::new(42),
        intents: 513,
        shard: [0, 1],
        seq: 0,
        node_id: Some("node-a".into()),
    }
}

/// Sessions: state round trip; replay after any retained seq in order; a gap
/// or an unknown session says so. `capacity` is the backend's log bound.
pub async fn sessions_and_replay(store: &dyn SessionStore, capacity: u64) {
    let id = format!("s{}", namespace());
    let ttl = Duration::from_secs(60);
    assert_eq!(
        store.replay_after(&id, 0).await.unwrap(),
        Replay::UnknownSession
    );
    store.save(&session(&id), ttl).await.unwrap();
    assert_eq!(store.get(&id).await.unwrap(), Some(session(&id)));
    assert_eq!(
        store.replay_after(&id, 0).await.unwrap(),
        Replay::Events(vec![])
    );

    // The first half one at a time, the rest in batches of seven: both
    // paths must log the same way.
    let total = capacity + 10;
    let half = total / 2;
    for seq in 1..=half {
        store
            .append(&id, seq, format!("{{\"s\":{seq}}}").into(), ttl)
            .await
            .unwrap();
    }
    let rest: Vec<(u64, std::sync::Arc<str>)> = (half + 1..=total)
        .map(|seq| (seq, format!("{{\"s\":{seq}}}").into()))
        .collect();
    for batch in rest.chunks(7) {
        store.append_many(&id, batch.to_vec(), ttl).await.unwrap();
    }
    store.append_many(&id, Vec::new(), ttl).await.unwrap();
    assert_eq!(
        store.get(&id).await.unwrap().unwrap().seq,
        total,
        "last seq recorded"
    );
    // The oldest ten fell out of the bound.
    let first_kept = total - capacity + 1;
    assert_eq!(
        store.replay_after(&id, first_kept - 2).await.unwrap(),
        Replay::Gap
    );
    let Replay::Events(events) = store.replay_after(&id, first_kept - 1).await.unwrap() else {
        panic!("expected events")
    };
    assert_eq!(events.len() as u64, capacity);
    assert!(
        events
            .iter()
            .zip(first_kept..)
            .all(|((s, p), want)| *s == want && *p == format!("{{\"s\":{want}}}"))
    );
    let Replay::Events(tail) = store.replay_after(&id, total - 3).await.unwrap() else {
        panic!("expected events")
    };
    assert_eq!(
        tail.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        vec![total - 2, total - 1, total]
    );
    assert_eq!(
        store.replay_after(&id, total).await.unwrap(),
        Replay::Events(vec![])
    );
    assert_eq!(
        store.replay_after(&id, total + 5).await.unwrap(),
        Replay::Gap,
        "seq from the future"
    );

    store.delete(&id).await.unwrap();
    assert_eq!(store.get(&id).await.unwrap(), None);
    assert_eq!(
        store.replay_after(&id, total).await.unwrap(),
        Replay::UnknownSession
    );
}

/// Appending for many sessions at once logs each session's entries in
/// order, as appending for each alone would, and leaves the others alone.
pub async fn batch_append(store: &dyn SessionStore, capacity: u64) {
    let ns = namespace();
    let ids: Vec<String> = (0..5).map(|i| format!("b{ns}-{i}")).collect();
    let ttl = Duration::from_secs(60);
    for id in &ids {
        store.save(&session(id), ttl).await.unwrap();
    }
    let payload =
        |i: usize, seq: u64| -> std::sync::Arc<str> { format!("{{\"{i}\":{seq}}}").into() };
    // Session i gets i entries per round (session 0 none), over enough
    // rounds to pass the bound for the busiest.
    let rounds = capacity / 4 + 3;
    let mut next = vec![1u64; ids.len()];
    for _ in 0..rounds {
        let mut batch = LogBatch::default();
        for (i, id) in ids.iter().enumerate() {
            batch.push(
                id,
                (0..i as u64).map(|k| (next[i] + k, payload(i, next[i] + k))),
            );
            next[i] += i as u64;
        }
        store.append_batch(batch, ttl).await.unwrap();
    }
    store.append_batch(LogBatch::default(), ttl).await.unwrap();
    for (i, id) in ids.iter().enumerate() {
        let last = next[i] - 1;
        assert_eq!(
            store.get(id).await.unwrap().unwrap().seq,
            last,
            "session {i}"
        );
        let kept = last.min(capacity);
        let Replay::Events(events) = store.replay_after(id, last - kept).await.unwrap() else {
            panic!("session {i}: expected events after {}", last - kept)
        };
        let want: Vec<(u64, String)> = (last - kept + 1..=last)
            .map(|seq| (seq, payload(i, seq).to_string()))
            .collect();
        assert_eq!(events, want, "session {i}");
    }
    // A batch naming an unsaved session logs for the others all the same.
    let unknown = format!("b{ns}-unknown");
    let mut batch = LogBatch::with_capacity(2);
    batch.push(&unknown, [(1, payload(9, 1)), (2, payload(9, 2))]);
    batch.push(&ids[1], [(next[1], payload(1, next[1]))]);
    store.append_batch(batch, ttl).await.unwrap();
    let Replay::Events(events) = store.replay_after(&ids[1], next[1] - 1).await.unwrap() else {
        panic!("expected events")
    };
    assert_eq!(events, vec![(next[1], payload(1, next[1]).to_string())]);

    // Sessions sent the same events share runs (numbered from each one's
    // own point), past the bound; each replays its own numbers.
    let shared: Vec<String> = (0..3).map(|i| format!("s{ns}-{i}")).collect();
    for id in &shared {
        store.save(&session(id), ttl).await.unwrap();
    }
    let offsets = [0u64, 10, 500];
    let event = |n: u64| -> std::sync::Arc<str> { format!("{{\"shared\":{n}}}").into() };
    let mut sent = 0;
    while sent < capacity + 20 {
        let run: Vec<_> = (sent..sent + 7).map(event).collect();
        let mut batch = LogBatch::with_capacity(shared.len());
        for (id, offset) in shared.iter().zip(offsets) {
            batch.push_run(id, offset + sent + 1, run.iter());
        }
        assert_eq!(batch.distinct_runs(), 1);
        store.append_batch(batch, ttl).await.unwrap();
        sent += 7;
    }
    for (id, offset) in shared.iter().zip(offsets) {
        let last = offset + sent;
        assert_eq!(store.get(id).await.unwrap().unwrap().seq, last, "{id}");
        let Replay::Events(events) = store.replay_after(id, last - capacity).await.unwrap() else {
            panic!("{id}: expected the last {capacity} events")
        };
        let want: Vec<(u64, String)> = (sent - capacity..sent)
            .map(|n| (offset + n + 1, event(n).to_string()))
            .collect();
        assert_eq!(events, want, "{id}");
        assert_eq!(
            store.replay_after(id, last - capacity - 1).await.unwrap(),
            Replay::Gap,
            "{id}: one past the bound"
        );
    }
}

/// Sessions expire after their TTL.
pub async fn session_expiry(store: &dyn SessionStore) {
    let id = format!("x{}", namespace());
    store
        .save(&session(&id), Duration::from_millis(300))
        .await
        .unwrap();
    assert!(store.get(&id).await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(store.get(&id).await.unwrap(), None);
    assert_eq!(
        store.replay_after(&id, 0).await.unwrap(),
        Replay::UnknownSession
    );
}

/// Appends through a session's log handle (where the store gives one)
/// behave exactly as by ID: two sessions, one logged by ID and one through
/// a handle taken once, read back the same after the same appends, also
/// once each is deleted, or expires, and is saved anew.
pub async fn log_handles(store: &dyn SessionStore) {
    let ns = namespace();
    let ttl = Duration::from_secs(60);
    let event = |n: u64| -> std::sync::Arc<str> { format!("{{\"h\":{n}}}").into() };
    let events = |first: u64, last: u64| -> Replay {
        Replay::Events((first..=last).map(|n| (n, event(n).to_string())).collect())
    };
    assert!(
        store.log_handle(&format!("h{ns}-never")).is_none(),
        "no handle for a session the store does not hold"
    );
    // `(by ID, through a handle)` for each case.
    let ids = [format!("h{ns}-id"), format!("h{ns}-handle")];
    let expiring = [format!("h{ns}-id-x"), format!("h{ns}-handle-x")];
    let append = |ids: &[String; 2], handle: &Option<discord_store::LogHandle>, first, last| {
        let run: Vec<_> = (first..=last).map(event).collect();
        let ids = ids.clone();
        let handle = handle.clone();
        async move {
            let mut batch = LogBatch::with_capacity(2);
            batch.push_run(&ids[0], first, run.iter());
            batch.push_run_to(&ids[1], handle.as_ref(), first, run.iter());
            store.append_batch(batch, ttl).await.unwrap();
        }
    };
    // Both read back alike: their records' numbers and their replays.
    let alike = |ids: &[String; 2], after: u64, when: &'static str| {
        let ids = ids.clone();
        async move {
            let mut seen = Vec::new();
            for id in &ids {
                let seq = store.get(id).await.unwrap().map(|r| r.seq);
                seen.push((seq, store.replay_after(id, after).await.unwrap()));
            }
            assert_eq!(seen[0], seen[1], "{when}: by ID, then through a handle");
            seen.swap_remove(0)
        }
    };

    for id in &ids {
        store.save(&session(id), ttl).await.unwrap();
    }
    let handle = store.log_handle(&ids[1]);
    append(&ids, &handle, 1, 3).await;
    append(&ids, &handle, 4, 4).await;
    assert_eq!(alike(&ids, 0, "logged").await, (Some(4), events(1, 4)));

    for id in &ids {
        store.delete(id).await.unwrap();
    }
    append(&ids, &handle, 5, 5).await;
    let (seq, _) = alike(&ids, 4, "deleted").await;
    assert_eq!(seq, None, "appending does not bring a session back");
    for id in &ids {
        store.save(&session(id), ttl).await.unwrap();
    }
    append(&ids, &handle, 6, 7).await;
    alike(&ids, 5, "saved anew").await;

    for id in &expiring {
        let short = Duration::from_millis(300);
        store.save(&session(id), short).await.unwrap();
    }
    let stale = store.log_handle(&expiring[1]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for id in &expiring {
        store.save(&session(id), ttl).await.unwrap();
    }
    append(&expiring, &stale, 1, 3).await;
    assert_eq!(
        alike(&expiring, 0, "expired, saved anew").await,
        (Some(3), events(1, 3))
    );
}

async fn recv(sub: &mut Box<dyn discord_store::Subscriber>) -> Option<(Topic, Bytes)> {
    tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .ok()
        .flatten()
}

/// Every subscriber of a topic gets each event, in order; unsubscribed
/// topics stop arriving.
pub async fn pubsub_delivery(ps: &dyn PubSub) {
    let guild = Topic::Guild(Snowflake::new(namespace()));
    let user = Topic::User(Snowflake::new(namespace()));
    let mut a = ps.subscriber().await.unwrap();
    let mut b = ps.subscriber().await.unwrap();
    a.subscribe(&guild).await.unwrap();
    a.subscribe(&user).await.unwrap();
    b.subscribe(&guild).await.unwrap();

    for i in 0..20 {
        ps.publish(&guild, Bytes::from(format!("g{i}")))
            .await
            .unwrap();
    }
    ps.publish(&user, Bytes::from_static(b"u")).await.unwrap();
    for sub in [&mut a, &mut b] {
        for i in 0..20 {
            assert_eq!(
                recv(sub).await,
                Some((guild.clone(), Bytes::from(format!("g{i}"))))
            );
        }
    }
    assert_eq!(
        recv(&mut a).await,
        Some((user.clone(), Bytes::from_static(b"u")))
    );

    b.unsubscribe(&guild).await.unwrap();
    ps.publish(&guild, Bytes::from_static(b"after"))
        .await
        .unwrap();
    ps.publish(
        &Topic::User(Snowflake::new(1)),
        Bytes::from_static(b"nobody"),
    )
    .await
    .unwrap();
    assert_eq!(
        recv(&mut a).await,
        Some((guild.clone(), Bytes::from_static(b"after")))
    );
    let nothing = tokio::time::timeout(Duration::from_millis(300), b.next()).await;
    assert!(
        nothing.is_err(),
        "unsubscribed topic still delivered: {nothing:?}"
    );
    assert_eq!(Topic::from_key(&guild.key()), Some(guild));
}
