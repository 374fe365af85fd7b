//! Fanout over real sockets: who receives what, presence, guild joins,
//! sharding, and a slow client that must not hold anyone back.

mod common;

use std::time::Duration;

use common::*;
use discord_proto::gateway::Intents;
use futures::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

#[tokio::test]
async fn messages_reach_exactly_the_sessions_that_may_see_them() {
    let n = single().await;
    let mut owner = Client::identify(n.addr, 1, ALL).await;
    let mut modr = Client::identify(n.addr, 2, ALL).await;
    let mut plain = Client::identify(n.addr, 3, ALL).await;
    n.gateway.publish(&message(1, 11)).await.unwrap();
    n.gateway.publish(&message(2, 10)).await.unwrap();
    for c in [&mut owner, &mut modr] {
        assert_eq!(
            c.dispatch("MESSAGE_CREATE").await["d"]["content"],
            "message 1"
        );
        assert_eq!(
            c.dispatch("MESSAGE_CREATE").await["d"]["content"],
            "message 2"
        );
    }
    let only = plain.dispatch("MESSAGE_CREATE").await;
    assert_eq!(
        only["d"]["content"], "message 2",
        "user 3 never sees channel 11"
    );
}

#[tokio::test]
async fn a_bot_without_message_content_gets_empty_content() {
    let n = single().await;
    let mut bot = Client::identify(n.addr, 9, Intents::GUILDS | Intents::GUILD_MESSAGES).await;
    n.gateway.publish(&message(1, 10)).await.unwrap();
    let m = bot.dispatch("MESSAGE_CREATE").await;
    assert_eq!(m["d"]["content"], "");
    assert_eq!(m["d"]["id"], "1001");
}

#[tokio::test]
async fn a_role_change_takes_effect_for_a_connected_session() {
    let n = single().await;
    let mut plain = Client::identify(n.addr, 3, ALL).await;
    let update = discord_gateway::Event::raw(
        "GUILD_MEMBER_UPDATE",
        Some(id(100)),
        &json!({"guild_id": "100", "roles": ["200"], "user": user_json(3),
                "joined_at": "2026-01-01T00:00:00+00:00"}),
    )
    .unwrap();
    n.gateway.publish(&update).await.unwrap();
    plain.dispatch("GUILD_MEMBER_UPDATE").await;
    n.gateway.publish(&message(1, 11)).await.unwrap();
    assert_eq!(
        plain.dispatch("MESSAGE_CREATE").await["d"]["channel_id"],
        "11"
    );
}

#[tokio::test]
async fn presence_changes_reach_guild_mates_and_disconnect_means_offline() {
    let n = single().await;
    let mut watcher = Client::identify(n.addr, 3, ALL).await;
    let mut c = Client::identify(n.addr, 1, ALL).await;
    let online = watcher.dispatch("PRESENCE_UPDATE").await;
    assert_eq!(
        (
            online["d"]["user"]["id"].clone(),
            online["d"]["status"].clone()
        ),
        (json!("1"), json!("online"))
    );
    c.send(json!({"op": 3, "d": {"since": null, "activities": [], "status": "dnd", "afk": false}}))
        .await;
    let dnd = watcher.dispatch("PRESENCE_UPDATE").await;
    assert_eq!(dnd["d"]["status"], "dnd");
    assert_eq!(dnd["d"]["guild_id"], "100");
    c.ws.send(Message::Close(Some(CloseFrame {
        code: 1000.into(),
        reason: "".into(),
    })))
    .await
    .unwrap();
    let offline = watcher.dispatch("PRESENCE_UPDATE").await;
    assert_eq!(offline["d"]["status"], "offline");
}

#[tokio::test]
async fn joining_a_guild_brings_its_events() {
    let n = single().await;
    let mut c = Client::identify(n.addr, 3, ALL).await;
    let mut new_guild = guild();
    new_guild.guild.id = id(300);
    for ch in &mut new_guild.channels {
        ch.guild_id = Some(id(300));
    }
    new_guild.guild.roles[0].id = id(300);
    new_guild.channels.retain(|ch| ch.id == id(10));
    let create = discord_gateway::Event::new(&discord_proto::gateway::DispatchEvent::GuildCreate(
        discord_proto::gateway::GuildCreate::Available(Box::new(new_guild)),
    ))
    .unwrap()
    .to_users([id(3)]);
    n.gateway.publish(&create).await.unwrap();
    assert_eq!(c.dispatch("GUILD_CREATE").await["d"]["id"], "300");
    let mut m = message(1, 10);
    m.guild_id = Some(id(300));
    n.gateway.publish(&m).await.unwrap();
    assert_eq!(
        c.dispatch("MESSAGE_CREATE").await["d"]["content"],
        "message 1"
    );
}

#[tokio::test]
async fn each_guild_goes_to_exactly_one_shard() {
    let n = single().await;
    let intents = Intents::GUILDS | Intents::GUILD_MESSAGES;
    let mut shards = Vec::new();
    for shard in 0..2u32 {
        let mut c = Client::connect(n.addr, "v=10&encoding=json").await;
        c.payload().await;
        c.send(json!({"op": 2, "d": {"token": "Bot token-9", "properties": {}, "intents": intents.bits(), "shard": [shard, 2]}}))
            .await;
        let ready = c.dispatch("READY").await;
        assert_eq!(ready["d"]["shard"], json!([shard, 2]));
        // Guild 100: (100 >> 22) % 2 == 0.
        let guilds = ready["d"]["guilds"].as_array().unwrap().len();
        assert_eq!(guilds, if shard == 0 { 1 } else { 0 });
        if guilds == 1 {
            c.dispatch("GUILD_CREATE").await;
        }
        shards.push(c);
    }
    n.gateway.publish(&message(1, 10)).await.unwrap();
    assert_eq!(
        shards[0].dispatch("MESSAGE_CREATE").await["d"]["id"],
        "1001"
    );
    assert!(shards[1].quiet(Duration::from_millis(300)).await);
}

#[tokio::test]
async fn a_slow_client_is_cut_off_without_delaying_others_and_loses_nothing() {
    let mut cfg = config("a");
    cfg.outbound_queue = 64;
    let n = node(cfg, memory_stores(10_000), Data::new()).await;
    let slow = Client::identify(n.addr, 2, ALL).await;
    let (session, seq) = (slow.session_id.clone(), slow.seq);
    let mut fast = Client::identify(n.addr, 3, ALL).await;
    let padding = "x".repeat(16 * 1024);
    let count = 1000u64;
    let fast_reader = tokio::spawn(async move {
        for i in 1..=count {
            let m = fast.dispatch("MESSAGE_CREATE").await;
            assert_eq!(m["d"]["content"].as_str().unwrap().len(), padding_len(i));
        }
        fast
    });
    for i in 1..=count {
        n.gateway.publish(&padded(i, &padding)).await.unwrap();
        // A busy channel, not one instant burst: a reading client keeps up.
        if i % 16 == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    // The fast client got everything while the slow one read nothing.
    tokio::time::timeout(WAIT, fast_reader)
        .await
        .unwrap()
        .unwrap();
    // The slow client was cut off, resumably: with a close code when the
    // server could still write one, or (its socket full of unread events,
    // where no close frame can get through) by dropping the connection,
    // which the client sees as 1006...
    let mut slow = slow;
    let code = slow.closed_with().await;
    assert!(
        (4000..=4009).contains(&code) || code == 1006,
        "closed with {code}"
    );
    // ...and catches up by RESUME with every event exactly once, in order.
    let mut c = Client::resume(n.addr, 2, &session, seq).await;
    let replay = c.replay().await;
    // Sequence numbers run on without a gap (a PRESENCE_UPDATE for the
    // other user is among the events)...
    for (i, (s, _, _)) in replay.iter().enumerate() {
        assert_eq!(*s, seq + 1 + i as u64);
    }
    assert_eq!(replay.last().unwrap().1, "RESUMED");
    // ...and every message is there once, in order.
    assert_every_message_once_in_order(&replay, count);
}

/// A client that never reads again fills its socket, so a write to it
/// would wait for ever. The session still moves to a new connection at
/// once (RESUME), with every event, in order: the stalled write gives way
/// when the queue overflows or the session is asked for.
#[tokio::test]
async fn a_client_that_stops_reading_can_still_resume_elsewhere() {
    let mut cfg = config("a");
    cfg.outbound_queue = 64;
    let n = node(cfg, memory_stores(10_000), Data::new()).await;
    let stalled = Client::identify(n.addr, 2, ALL).await;
    let (session, seq) = (stalled.session_id.clone(), stalled.seq);
    // 2,000 events of 16 KiB: far more than the two socket buffers hold.
    let count = 2000u64;
    let padding = "x".repeat(16 * 1024);
    for i in 1..=count {
        n.gateway.publish(&padded(i, &padding)).await.unwrap();
        if i % 64 == 0 {
            tokio::task::yield_now().await;
        }
    }
    // The stalled client is still connected and reads nothing; a new
    // connection resumes its session.
    let mut c = Client::resume(n.addr, 2, &session, seq).await;
    let replay = c.replay().await;
    assert_every_message_once_in_order(&replay, count);
    drop(stalled);
}

/// Message `i` in channel 10, its content `message <i> <padding>`.
fn padded(i: u64, padding: &str) -> discord_gateway::Event {
    let mut m = message(i, 10);
    let mut data: serde_json::Value = serde_json::from_str(m.data.get()).unwrap();
    data["content"] = json!(format!("message {i} {padding}"));
    m.data = serde_json::value::to_raw_value(&data).unwrap();
    m
}

/// The replay holds messages 1 to `count` (see [`padded`]), each once, in
/// order.
fn assert_every_message_once_in_order(replay: &[(u64, String, String)], count: u64) {
    let messages: Vec<&String> = replay
        .iter()
        .filter(|(_, t, _)| t == "MESSAGE_CREATE")
        .map(|(_, _, c)| c)
        .collect();
    assert_eq!(messages.len() as u64, count);
    for (i, content) in messages.iter().enumerate() {
        assert!(content.starts_with(&format!("message {} ", i + 1)), "{i}");
    }
}

fn padding_len(i: u64) -> usize {
    format!("message {i} ").len() + 16 * 1024
}

/// Events of every WebSocket length encoding (7-bit, 16-bit and 64-bit
/// payload lengths), written back to back, arrive whole and in order.
#[tokio::test]
async fn frames_of_every_length_arrive_whole_and_in_order() {
    let n = single().await;
    let sizes = [1usize, 100, 2_000, 70_000, 300_000, 5];
    let mut plain = Client::identify(n.addr, 1, ALL).await;
    for (i, size) in sizes.iter().enumerate() {
        let mut data: serde_json::Value =
            serde_json::from_str(message(i as u64, 10).data.get()).unwrap();
        data["content"] = json!("x".repeat(*size));
        let event = discord_gateway::Event::raw("MESSAGE_CREATE", Some(id(100)), &data).unwrap();
        n.gateway.publish(&event).await.unwrap();
    }
    for size in sizes {
        let got = plain.dispatch("MESSAGE_CREATE").await;
        assert_eq!(got["d"]["content"].as_str().unwrap().len(), size);
    }
    assert!(plain.quiet(Duration::from_millis(200)).await);
}

#[cfg(feature = "fanout-timing")]
#[tokio::test]
async fn fanout_timing_records_each_delivered_event() {
    let n = single().await;
    let mut owner = Client::identify(n.addr, 1, ALL).await;
    let mut modr = Client::identify(n.addr, 2, ALL).await;
    // Start afresh: what follows is recorded after this.
    discord_gateway::timing::take_percentiles(&[]);
    n.gateway.publish(&message(1, 10)).await.unwrap();
    owner.dispatch("MESSAGE_CREATE").await;
    modr.dispatch("MESSAGE_CREATE").await;
    // Other tests in this binary deliver too, so at least these two.
    let (count, p) = discord_gateway::timing::take_percentiles(&[1.0]);
    assert!(count >= 2, "two deliveries recorded, got {count}");
    assert!(p[0] > Duration::ZERO);
}

/// More sessions than the pump wakes at once, and a burst that keeps
/// arriving while it wakes them: every session gets every event once, in
/// order.
#[tokio::test]
async fn a_burst_reaches_every_one_of_many_sessions_in_order() {
    let n = single().await;
    let mut clients = Vec::new();
    for _ in 0..200 {
        clients.push(Client::identify(n.addr, 2, ALL).await);
    }
    let publisher = n.gateway.clone();
    let burst = tokio::spawn(async move {
        for i in 0..60 {
            publisher.publish(&message(i, 10)).await.unwrap();
            if i % 10 == 0 {
                tokio::task::yield_now().await;
            }
        }
    });
    for c in &mut clients {
        for i in 0..60 {
            let m = c.dispatch("MESSAGE_CREATE").await;
            assert_eq!(m["d"]["content"], format!("message {i}"));
        }
    }
    burst.await.unwrap();
}

/// While the node writes a burst to a session's socket, the client pings
/// and heartbeats: every ping is answered and every heartbeat acknowledged,
/// between whole frames, and every dispatch arrives once, in order,
/// numbered without a gap.
#[tokio::test]
async fn pings_and_heartbeats_during_a_burst_never_break_a_frame() {
    use futures::StreamExt;

    let n = single().await;
    let mut c = Client::identify(n.addr, 2, ALL).await;
    let mut last = c.seq;
    let publisher = n.gateway.clone();
    let burst = tokio::spawn(async move {
        for i in 0..400 {
            publisher.publish(&message(i, 10)).await.unwrap();
            if i % 5 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    });
    let (mut messages, mut acks, mut pongs) = (0, 0, 0);
    let (mut pings, mut heartbeats) = (0, 0);
    let mut sent_for = usize::MAX;
    while messages < 400 || pongs < pings || acks < heartbeats {
        if messages < 400 && sent_for != messages {
            sent_for = messages;
            if messages % 7 == 0 {
                c.ws.send(Message::Ping(vec![1, 2, 3].into()))
                    .await
                    .unwrap();
                pings += 1;
            }
            if messages % 40 == 0 {
                c.send(json!({"op": 1, "d": last})).await;
                heartbeats += 1;
            }
        }
        let frame = tokio::time::timeout(WAIT, c.ws.next())
            .await
            .expect("the server answers within the wait")
            .expect("the connection stays open")
            .expect("every frame is whole");
        let text = match frame {
            Message::Pong(payload) => {
                assert_eq!(&payload[..], [1, 2, 3]);
                pongs += 1;
                continue;
            }
            Message::Text(text) => text,
            other => panic!("unexpected frame {other:?}"),
        };
        let v: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
        match v["op"].as_u64() {
            Some(0) => {
                let s = v["s"].as_u64().unwrap();
                assert_eq!(s, last + 1, "dispatches are numbered without a gap");
                last = s;
                if v["t"] == "MESSAGE_CREATE" {
                    assert_eq!(v["d"]["content"], format!("message {messages}"));
                    messages += 1;
                }
            }
            Some(11) => acks += 1,
            other => panic!("unexpected op {other:?}"),
        }
    }
    assert_eq!((pongs, acks), (pings, heartbeats));
    burst.await.unwrap();
}
