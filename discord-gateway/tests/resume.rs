//! RESUME: missed events replayed in order on the same node or another,
//! and every way a resume is refused.

mod common;

use std::time::Duration;

use common::*;
use futures::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

/// Replay `got` holds the messages `first..=last` in order with
/// consecutive sequence numbers after `seq`, then RESUMED.
fn assert_replay(got: &[(u64, String, String)], seq: u64, contents: &[String]) {
    let expected: Vec<(u64, String, String)> = contents
        .iter()
        .enumerate()
        .map(|(i, c)| (seq + 1 + i as u64, "MESSAGE_CREATE".to_owned(), c.clone()))
        .chain(std::iter::once((
            seq + 1 + contents.len() as u64,
            "RESUMED".to_owned(),
            String::new(),
        )))
        .collect();
    assert_eq!(got, expected);
}

fn contents(range: std::ops::RangeInclusive<u64>) -> Vec<String> {
    range.map(|n| format!("message {n}")).collect()
}

#[tokio::test]
async fn resume_on_the_same_node_replays_missed_events_in_order() {
    let n = single().await;
    let mut c = Client::identify(n.addr, 3, ALL).await;
    n.gateway.publish(&message(1, 10)).await.unwrap();
    assert_eq!(
        c.dispatch("MESSAGE_CREATE").await["d"]["content"],
        "message 1"
    );
    let (session, seq) = c.drop_connection();
    for i in 2..=4 {
        n.gateway.publish(&message(i, 10)).await.unwrap();
    }
    let mut c = Client::resume(n.addr, 3, &session, seq).await;
    assert_replay(&c.replay().await, seq, &contents(2..=4));
    // Live again, numbering continues, nothing twice.
    n.gateway.publish(&message(5, 10)).await.unwrap();
    let live = c.payload().await;
    assert_eq!(live["d"]["content"], "message 5");
    assert_eq!(live["s"], seq + 5);
    assert!(c.quiet(Duration::from_millis(200)).await);
}

#[tokio::test]
async fn resume_on_another_node_replays_missed_events_in_order() {
    let stores = memory_stores(1000);
    let data = Data::new();
    let a = node(config("a"), stores.clone(), data.clone()).await;
    let b = node(config("b"), stores.clone(), data.clone()).await;
    let c = Client::identify(a.addr, 3, ALL).await;
    let (session, seq) = c.drop_connection();
    for i in 1..=3 {
        b.gateway.publish(&message(i, 10)).await.unwrap();
    }
    let mut c = Client::resume(b.addr, 3, &session, seq).await;
    assert_replay(&c.replay().await, seq, &contents(1..=3));
    // Node A let go of the session; node B delivers from now on, once.
    eventually(|| a.gateway.session_count() == 0).await;
    a.gateway.publish(&message(4, 10)).await.unwrap();
    let live = c.payload().await;
    assert_eq!(live["d"]["content"], "message 4");
    assert_eq!(live["s"], seq + 5);
    assert!(c.quiet(Duration::from_millis(200)).await);
}

#[tokio::test]
async fn resuming_while_the_old_connection_is_open_takes_it_over() {
    let stores = memory_stores(1000);
    let data = Data::new();
    let a = node(config("a"), stores.clone(), data.clone()).await;
    let b = node(config("b"), stores.clone(), data.clone()).await;
    let mut old = Client::identify(a.addr, 3, ALL).await;
    let (session, seq) = (old.session_id.clone(), old.seq);
    let mut c = Client::resume(b.addr, 3, &session, seq).await;
    assert_eq!(
        c.replay().await,
        vec![(seq + 1, "RESUMED".to_owned(), String::new())]
    );
    let code = old.closed_with().await;
    assert!(code >= 4000, "the old connection is closed ({code})");
    a.gateway.publish(&message(1, 10)).await.unwrap();
    assert_eq!(c.payload().await["s"], seq + 2);
    assert!(c.quiet(Duration::from_millis(200)).await);
}

#[tokio::test]
async fn an_unknown_session_is_invalid_and_not_resumable() {
    let n = single().await;
    let mut c = Client::resume(n.addr, 3, "no-such-session", 5).await;
    let v = c.payload().await;
    assert_eq!((v["op"].clone(), v["d"].clone()), (json!(9), json!(false)));
    // The client may IDENTIFY on the same connection.
    c.send(identify(3, ALL)).await;
    assert_eq!(c.dispatch("READY").await["s"], 1);
}

#[tokio::test]
async fn another_users_token_cannot_resume_a_session() {
    let n = single().await;
    let c = Client::identify(n.addr, 3, ALL).await;
    let (session, seq) = c.drop_connection();
    let mut c = Client::resume(n.addr, 2, &session, seq).await;
    let v = c.payload().await;
    assert_eq!((v["op"].clone(), v["d"].clone()), (json!(9), json!(false)));
}

#[tokio::test]
async fn a_bad_token_on_resume_closes_with_4004() {
    let n = single().await;
    let c = Client::identify(n.addr, 3, ALL).await;
    let (session, seq) = c.drop_connection();
    let mut c = Client::connect(n.addr, "v=10").await;
    c.payload().await;
    c.send(json!({"op": 6, "d": {"token": "bad", "session_id": session, "seq": seq}}))
        .await;
    assert_eq!(c.closed_with().await, 4004);
}

#[tokio::test]
async fn a_seq_from_the_future_closes_with_4007() {
    let n = single().await;
    let c = Client::identify(n.addr, 3, ALL).await;
    let (session, seq) = c.drop_connection();
    let mut c = Client::resume(n.addr, 3, &session, seq + 50).await;
    assert_eq!(c.closed_with().await, 4007);
}

#[tokio::test]
async fn a_seq_older_than_the_log_is_invalid() {
    let n = node(config("a"), memory_stores(5), Data::new()).await;
    let c = Client::identify(n.addr, 3, ALL).await;
    let (session, _) = c.drop_connection();
    for i in 1..=10 {
        n.gateway.publish(&message(i, 10)).await.unwrap();
    }
    let mut c = Client::resume(n.addr, 3, &session, 1).await;
    let v = c.payload().await;
    assert_eq!((v["op"].clone(), v["d"].clone()), (json!(9), json!(false)));
}

#[tokio::test]
async fn closing_with_1000_ends_the_session() {
    let n = single().await;
    let mut c = Client::identify(n.addr, 3, ALL).await;
    let (session, seq) = (c.session_id.clone(), c.seq);
    c.ws.send(Message::Close(Some(CloseFrame {
        code: 1000.into(),
        reason: "bye".into(),
    })))
    .await
    .unwrap();
    eventually(|| n.gateway.session_count() == 0).await;
    let mut c = Client::resume(n.addr, 3, &session, seq).await;
    let v = c.payload().await;
    assert_eq!((v["op"].clone(), v["d"].clone()), (json!(9), json!(false)));
}

#[tokio::test]
async fn closing_with_another_code_keeps_the_session_resumable() {
    let n = single().await;
    let mut c = Client::identify(n.addr, 3, ALL).await;
    let (session, seq) = (c.session_id.clone(), c.seq);
    c.ws.send(Message::Close(Some(CloseFrame {
        code: 4000.into(),
        reason: "reconnecting".into(),
    })))
    .await
    .unwrap();
    n.gateway.publish(&message(1, 10)).await.unwrap();
    let mut c = Client::resume(n.addr, 3, &session, seq).await;
    assert_replay(&c.replay().await, seq, &contents(1..=1));
}

#[tokio::test]
async fn a_zombie_closed_with_4009_can_resume() {
    let mut cfg = config("a");
    cfg.heartbeat_interval = Duration::from_millis(200);
    cfg.heartbeat_timeout = Duration::from_millis(500);
    let n = node(cfg, memory_stores(100), Data::new()).await;
    let mut c = Client::identify(n.addr, 3, ALL).await;
    let (session, seq) = (c.session_id.clone(), c.seq);
    assert_eq!(c.closed_with().await, 4009);
    n.gateway.publish(&message(1, 10)).await.unwrap();
    let mut c = Client::resume(n.addr, 3, &session, seq).await;
    // The heartbeat request (op 1) was not a dispatch, so seq is unchanged.
    assert_replay(&c.replay().await, seq, &contents(1..=1));
}

#[tokio::test]
async fn graceful_shutdown_sends_reconnect_and_sessions_resume_elsewhere() {
    let stores = memory_stores(1000);
    let data = Data::new();
    let a = node(config("a"), stores.clone(), data.clone()).await;
    let b = node(config("b"), stores.clone(), data.clone()).await;
    let mut c = Client::identify(a.addr, 3, ALL).await;
    let seq = c.seq;
    let session = c.session_id.clone();
    let gateway = a.gateway.clone();
    let shutdown = tokio::spawn(async move { gateway.shutdown(Duration::from_secs(10)).await });
    assert_eq!(c.payload().await["op"], 7);
    assert!(c.closed_with().await >= 4000);
    // Events published while the client reconnects are kept.
    b.gateway.publish(&message(1, 10)).await.unwrap();
    let mut c = Client::resume(b.addr, 3, &session, seq).await;
    assert_replay(&c.replay().await, seq, &contents(1..=1));
    // Once its sessions moved, node A finishes shutting down.
    tokio::time::timeout(WAIT, shutdown).await.unwrap().unwrap();
    b.gateway.publish(&message(2, 10)).await.unwrap();
    assert_eq!(c.payload().await["s"], seq + 3);
}

/// A client that resumes after READY gets its GUILD_CREATE replayed (made
/// again from the guild, under its sequence number), on another node too.
#[tokio::test]
async fn resume_after_ready_replays_guild_create() {
    let stores = memory_stores(1000);
    let data = Data::new();
    let a = node(config("a"), stores.clone(), data.clone()).await;
    let b = node(config("b"), stores.clone(), data.clone()).await;
    let mut c = Client::connect(a.addr, "v=10&encoding=json").await;
    assert_eq!(c.payload().await["op"], 10);
    c.send(identify(3, ALL)).await;
    let ready = c.dispatch("READY").await;
    c.session_id = ready["d"]["session_id"].as_str().unwrap().to_owned();
    let live = c.dispatch("GUILD_CREATE").await;
    assert_eq!(live["s"], 2);
    let (session, _) = c.drop_connection();
    b.gateway.publish(&message(1, 10)).await.unwrap();
    let mut c = Client::resume(b.addr, 3, &session, 1).await;
    let replayed = c.payload().await;
    assert_eq!(replayed["t"], "GUILD_CREATE", "{replayed}");
    assert_eq!(replayed["s"], 2);
    for field in ["id", "name", "channels", "roles", "members", "unavailable"] {
        assert_eq!(replayed["d"][field], live["d"][field], "{field}");
    }
    assert_eq!(
        c.replay().await,
        [
            (3, "MESSAGE_CREATE".to_owned(), "message 1".to_owned()),
            (4, "RESUMED".to_owned(), String::new())
        ]
    );
}

/// A session taken over again and again while a burst goes out to a guild
/// of five writer chunks' worth of sessions: some of its events are still
/// kept in the guild, not yet queued for it, when it is handed over, and
/// the old connection must log them before it lets go (without that, a
/// dozen messages went missing in every run). Across all the hand-overs
/// the client gets every message once, in order, with increasing sequence
/// numbers.
#[tokio::test]
async fn takeovers_in_the_middle_of_a_burst_lose_and_repeat_nothing() {
    use discord_proto::gateway::Intents;
    const MESSAGES: u64 = 400;
    const TAKEOVERS: u64 = 10;
    let n = node(config("a"), memory_stores(10_000), Data::new()).await;
    // The crowd joins first, so the watched session is written last, a
    // few writer turns after each event is kept. It never reads: its
    // sockets' buffers hold the whole burst.
    let mut crowd = Vec::new();
    for _ in 0..640 {
        crowd.push(Client::identify(n.addr, 2, ALL).await);
    }
    let intents = Intents::GUILDS | Intents::GUILD_MESSAGES | Intents::MESSAGE_CONTENT;
    let mut c = Client::identify(n.addr, 3, intents).await;
    let publisher = n.gateway.clone();
    let burst = tokio::spawn(async move {
        for i in 1..=MESSAGES {
            publisher.publish(&message(i, 10)).await.unwrap();
            if i % 4 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    });
    let mut got: Vec<(u64, String)> = Vec::new();
    let record = |got: &mut Vec<(u64, String)>, v: &serde_json::Value| {
        if v["t"] == "MESSAGE_CREATE" {
            let content = v["d"]["content"].as_str().unwrap().to_owned();
            got.push((v["s"].as_u64().unwrap(), content));
        }
    };
    for _ in 0..TAKEOVERS {
        for _ in 0..MESSAGES / (2 * TAKEOVERS) {
            record(&mut got, &c.dispatch("MESSAGE_CREATE").await);
        }
        // The old connection stays open (and unread) until taken over.
        let mut next = Client::resume(n.addr, 3, &c.session_id, c.seq).await;
        loop {
            let v = next.payload().await;
            assert_eq!(v["op"], 0, "only dispatches during replay: {v}");
            if v["t"] == "RESUMED" {
                break;
            }
            record(&mut got, &v);
        }
        drop(c);
        c = next;
    }
    while got
        .last()
        .is_none_or(|(_, m)| *m != format!("message {MESSAGES}"))
    {
        record(&mut got, &c.dispatch("MESSAGE_CREATE").await);
    }
    burst.await.unwrap();
    let received: Vec<&str> = got.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(received, contents(1..=MESSAGES));
    assert!(
        got.windows(2).all(|w| w[0].0 < w[1].0),
        "sequence numbers increase"
    );
    drop(crowd);
}
