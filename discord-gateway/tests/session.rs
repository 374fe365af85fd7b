//! The session protocol over real WebSockets: handshake, READY and
//! GUILD_CREATE, heartbeats, and every close code a client can cause.

mod common;

use std::time::Duration;

use common::*;
use discord_proto::gateway::Intents;
use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn hello_identify_ready_then_guild_create() {
    let n = single().await;
    let mut c = Client::connect(n.addr, "v=10&encoding=json").await;
    let hello = c.payload().await;
    assert_eq!(hello["op"], 10);
    assert_eq!(hello["d"]["heartbeat_interval"], 30_000);
    assert!(hello["s"].is_null() && hello["t"].is_null());
    c.send(identify(3, ALL)).await;
    let ready = c.payload().await;
    assert_eq!(ready["t"], "READY");
    assert_eq!(ready["s"], 1);
    let d = &ready["d"];
    assert_eq!(d["v"], 10);
    assert_eq!(d["user"]["id"], "3");
    assert_eq!(d["guilds"], json!([{"id": "100", "unavailable": true}]));
    assert_eq!(d["session_id"].as_str().unwrap().len(), 32);
    assert_eq!(d["resume_gateway_url"], format!("ws://{}", n.addr));
    assert!(
        d.get("application").is_none(),
        "user sessions have no application"
    );
    let gc = c.payload().await;
    assert_eq!(gc["t"], "GUILD_CREATE");
    assert_eq!(gc["s"], 2);
    let channels: Vec<_> = gc["d"]["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(channels, ["10"], "user 3 cannot see channel 11");
    assert_eq!(gc["d"]["members"].as_array().unwrap().len(), 4);
    assert_eq!(gc["d"]["roles"].as_array().unwrap().len(), 2);
    assert_eq!(gc["d"]["unavailable"], false);
}

#[tokio::test]
async fn bots_get_their_application_in_ready() {
    let n = single().await;
    let mut c = Client::connect(n.addr, "v=10&encoding=json").await;
    c.payload().await;
    c.send(identify(9, Intents::GUILDS | Intents::GUILD_MESSAGES))
        .await;
    let ready = c.dispatch("READY").await;
    assert_eq!(ready["d"]["application"]["id"], "90");
    assert_eq!(ready["d"]["user"]["bot"], true);
}

#[tokio::test]
async fn heartbeats_are_acknowledged() {
    let n = single().await;
    let mut c = Client::identify(n.addr, 3, ALL).await;
    c.send(json!({"op": 1, "d": c.seq})).await;
    assert_eq!(c.payload().await["op"], 11);
    // Before IDENTIFY too.
    let mut c = Client::connect(n.addr, "v=10").await;
    c.payload().await;
    c.send(json!({"op": 1, "d": null})).await;
    assert_eq!(c.payload().await["op"], 11);
}

/// WebSocket framing a client may use: a ping is answered with a pong
/// carrying its payload, a command sent in fragments (with a ping between
/// them) is read whole, and a close is answered with the same code.
#[tokio::test]
async fn pings_fragments_and_closes_follow_the_websocket_protocol() {
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

    let n = single().await;
    let mut c = Client::identify(n.addr, 3, ALL).await;
    c.ws.send(Message::Ping(b"are you there".to_vec().into()))
        .await
        .unwrap();
    let pong = tokio::time::timeout(WAIT, c.ws.next()).await.unwrap();
    match pong {
        Some(Ok(Message::Pong(payload))) => assert_eq!(&payload[..], b"are you there"),
        other => panic!("expected a pong, got {other:?}"),
    }
    let heartbeat = json!({"op": 1, "d": c.seq}).to_string().into_bytes();
    let (a, rest) = heartbeat.split_at(3);
    let (b, tail) = rest.split_at(4);
    for (i, part) in [a, b, tail].into_iter().enumerate() {
        let opcode = OpCode::Data(if i == 0 { Data::Text } else { Data::Continue });
        let frame = Frame::message(part.to_vec(), opcode, i == 2);
        c.ws.send(Message::Frame(frame)).await.unwrap();
        if i == 0 {
            c.ws.send(Message::Ping(b"between".to_vec().into()))
                .await
                .unwrap();
        }
    }
    assert_eq!(c.payload().await["op"], 11, "the fragmented heartbeat");
    c.ws.close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
        code: 1000.into(),
        reason: "bye".into(),
    }))
    .await
    .unwrap();
    assert_eq!(c.closed_with().await, 1000, "the close is answered in kind");
}

#[tokio::test]
async fn the_gateway_answers_with_and_without_a_trailing_slash() {
    let n = single().await;
    for path in ["gateway", "gateway/"] {
        let url = format!("ws://{}/{path}?v=10&encoding=json", n.addr);
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect(path);
        let first = futures::StreamExt::next(&mut ws).await.unwrap().unwrap();
        assert!(first.to_text().unwrap().contains(r#""op":10"#), "{path}");
    }
}

#[tokio::test]
async fn a_permessage_deflate_offer_is_declined_not_refused() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let n = single().await;
    let mut request = format!("ws://{}/?v=10", n.addr)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Extensions",
        "permessage-deflate; client_max_window_bits"
            .parse()
            .unwrap(),
    );
    let (mut ws, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert!(response.headers().get("sec-websocket-extensions").is_none());
    let first = futures::StreamExt::next(&mut ws).await.unwrap().unwrap();
    assert!(first.to_text().unwrap().contains(r#""op":10"#));
}

/// A plain HTTP request to the gateway's path is refused with 400 and a
/// Discord-style JSON error, not a hang or a dropped connection.
#[tokio::test]
async fn a_request_that_is_not_a_websocket_upgrade_gets_400() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let n = single().await;
    let mut tcp = tokio::net::TcpStream::connect(n.addr).await.unwrap();
    tcp.write_all(b"GET /?v=10 HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tokio::time::timeout(WAIT, tcp.read_to_string(&mut response))
        .await
        .expect("answered")
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    let body = response.split("\r\n\r\n").nth(1).unwrap();
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["code"], 0);
    assert!(body["message"].as_str().unwrap().contains("WebSocket"));
}

async fn close_code_after(query: &str, payloads: Vec<serde_json::Value>) -> u16 {
    let n = single().await;
    let mut c = Client::connect(n.addr, query).await;
    if query.contains("v=10") {
        c.payload().await;
    }
    for p in payloads {
        c.send(p).await;
    }
    c.closed_with().await
}

#[tokio::test]
async fn unsupported_versions_close_with_4012() {
    let n = single().await;
    let mut c = Client::connect(n.addr, "v=8&encoding=json").await;
    assert_eq!(c.closed_with().await, 4012);
    let mut c = Client::connect(n.addr, "v=9&encoding=json").await;
    assert_eq!(c.payload().await["op"], 10, "v=9 is accepted");
}

#[tokio::test]
async fn authentication_failures_close_with_4004() {
    let bad = json!({"op": 2, "d": {"token": "nope", "properties": {}, "intents": 1}});
    assert_eq!(close_code_after("v=10", vec![bad]).await, 4004);
}

#[tokio::test]
async fn unknown_opcodes_close_with_4001_and_garbage_with_4002() {
    let n = single().await;
    let mut c = Client::connect(n.addr, "v=10").await;
    c.payload().await;
    c.send(json!({"op": 99, "d": null})).await;
    assert_eq!(c.closed_with().await, 4001);
    let mut c = Client::connect(n.addr, "v=10").await;
    c.payload().await;
    c.ws.send(Message::text("{not json")).await.unwrap();
    assert_eq!(c.closed_with().await, 4002);
}

#[tokio::test]
async fn commands_before_identify_close_with_4003() {
    let presence =
        json!({"op": 3, "d": {"since": null, "activities": [], "status": "idle", "afk": false}});
    assert_eq!(close_code_after("v=10", vec![presence]).await, 4003);
}

#[tokio::test]
async fn a_second_identify_closes_with_4005() {
    let n = single().await;
    let mut c = Client::identify(n.addr, 3, ALL).await;
    c.send(identify(3, ALL)).await;
    assert_eq!(c.closed_with().await, 4005);
}

#[tokio::test]
async fn more_than_120_commands_a_minute_close_with_4008() {
    let n = single().await;
    let mut c = Client::identify(n.addr, 3, ALL).await;
    for _ in 0..120 {
        c.send(json!({"op": 1, "d": null})).await;
    }
    assert_eq!(c.closed_with().await, 4008);
}

#[tokio::test]
async fn shard_and_intent_errors_close_with_their_codes() {
    let shard = json!({"op": 2, "d": {"token": "token-3", "properties": {}, "intents": 1, "shard": [2, 2]}});
    assert_eq!(close_code_after("v=10", vec![shard]).await, 4010);
    let invalid =
        json!({"op": 2, "d": {"token": "token-3", "properties": {}, "intents": 1u64 << 40}});
    assert_eq!(close_code_after("v=10", vec![invalid]).await, 4013);
    // The bot may not use MESSAGE_CONTENT.
    let disallowed = identify(9, Intents::GUILD_MESSAGES | Intents::MESSAGE_CONTENT);
    assert_eq!(close_code_after("v=10", vec![disallowed]).await, 4014);
}

#[tokio::test]
async fn a_bot_in_too_many_guilds_must_shard() {
    let mut cfg = config("a");
    cfg.max_guilds_per_shard = 0;
    let n = node(cfg, memory_stores(100), Data::new()).await;
    let mut c = Client::connect(n.addr, "v=10").await;
    c.payload().await;
    c.send(identify(9, Intents::GUILDS)).await;
    assert_eq!(c.closed_with().await, 4011);
}

#[tokio::test]
async fn oversized_frames_close_with_4002() {
    let n = single().await;
    let mut c = Client::identify(n.addr, 3, ALL).await;
    let big = json!({"op": 1, "d": null, "padding": "x".repeat(8000)});
    c.send(big).await;
    assert_eq!(c.closed_with().await, 4002);
    // Far past the limit: refused at the transport, still a close.
    let mut c = Client::identify(n.addr, 3, ALL).await;
    let huge = json!({"op": 1, "d": null, "padding": "x".repeat(1 << 20)});
    let _ = c.ws.send(Message::text(huge.to_string())).await;
    let code = c.closed_with().await;
    assert!(code == 4002 || code == 1006, "closed with {code}");
}

#[tokio::test]
async fn a_silent_client_is_asked_for_a_heartbeat_then_closed_with_4009() {
    let mut cfg = config("a");
    cfg.heartbeat_interval = Duration::from_millis(200);
    cfg.heartbeat_timeout = Duration::from_millis(600);
    let n = node(cfg, memory_stores(100), Data::new()).await;
    let mut c = Client::identify(n.addr, 3, ALL).await;
    let request = c.payload().await;
    assert_eq!(request["op"], 1, "the server asks for a heartbeat");
    assert_eq!(c.closed_with().await, 4009);
}

async fn next_decoded(
    ws: &mut Ws,
    decoder: &mut discord_proto::compression::Decoder,
) -> serde_json::Value {
    loop {
        match futures::StreamExt::next(ws).await.unwrap().unwrap() {
            Message::Binary(b) => {
                if let Some(out) = decoder.push(&b).unwrap() {
                    return serde_json::from_slice(&out).unwrap();
                }
            }
            other => panic!("expected binary, got {other:?}"),
        }
    }
}

/// A zlib-stream session on `n` through READY and GUILD_CREATE, each
/// checked, and its decoder.
async fn zlib_session(n: &Node) -> (Ws, discord_proto::compression::Decoder) {
    use discord_proto::compression::{Decoder, TransportCompression};
    let url = format!("ws://{}/?v=10&encoding=json&compress=zlib-stream", n.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut decoder = Decoder::new(TransportCompression::ZlibStream, 1 << 20).unwrap();
    assert_eq!(next_decoded(&mut ws, &mut decoder).await["op"], 10);
    ws.send(Message::text(identify(3, ALL).to_string()))
        .await
        .unwrap();
    assert_eq!(next_decoded(&mut ws, &mut decoder).await["t"], "READY");
    assert_eq!(
        next_decoded(&mut ws, &mut decoder).await["t"],
        "GUILD_CREATE"
    );
    (ws, decoder)
}

#[tokio::test]
async fn zlib_stream_compresses_every_payload() {
    zlib_session(&single().await).await;
}

/// The next binary frame's bytes, and the message they complete.
async fn next_binary(
    ws: &mut Ws,
    decoder: &mut discord_proto::compression::Decoder,
) -> (Vec<u8>, serde_json::Value) {
    match futures::StreamExt::next(ws).await.unwrap().unwrap() {
        Message::Binary(b) => {
            let out = decoder.push(&b).unwrap().expect("one message per frame");
            (b.to_vec(), serde_json::from_slice(&out).unwrap())
        }
        other => panic!("expected binary, got {other:?}"),
    }
}

/// A zlib-stream connection that carries only heartbeats lets its
/// compressor go at the second heartbeat: that ACK is a stored deflate
/// block, which needs none. The next dispatch makes a new one on the same
/// stream, and the stream decodes throughout.
#[tokio::test]
async fn zlib_stream_releases_an_idle_compressor_between_heartbeats() {
    use discord_proto::compression::Decoder;
    // A stored block (header byte 0, length, its complement, the bytes),
    // then the sync flush's empty one.
    let ack = br#"{"op":11,"d":null,"s":null,"t":null}"#;
    let mut stored_ack = vec![0, ack.len() as u8, 0, !(ack.len() as u8), 0xff];
    stored_ack.extend_from_slice(ack);
    stored_ack.extend_from_slice(&[0, 0, 0, 0xff, 0xff]);
    let stored_ack = &stored_ack[..];
    let n = single().await;
    let (mut ws, mut decoder) = zlib_session(&n).await;
    let heartbeat = async |ws: &mut Ws, decoder: &mut Decoder| {
        ws.send(Message::text(r#"{"op":1,"d":2}"#)).await.unwrap();
        let (bytes, ack) = next_binary(ws, decoder).await;
        assert_eq!(ack["op"], 11);
        bytes
    };
    // READY and GUILD_CREATE came since the connection started: the
    // compressor stays, and compresses the ACK.
    assert_ne!(heartbeat(&mut ws, &mut decoder).await, stored_ack);
    // Nothing but that ACK since the last heartbeat: released.
    assert_eq!(heartbeat(&mut ws, &mut decoder).await, stored_ack);
    assert_eq!(heartbeat(&mut ws, &mut decoder).await, stored_ack);
    // A dispatch needs a compressor again; the stream carries on.
    n.gateway.publish(&message(1, 10)).await.unwrap();
    let (bytes, event) = next_binary(&mut ws, &mut decoder).await;
    assert_eq!(event["t"], "MESSAGE_CREATE");
    assert_eq!(event["d"]["content"], "message 1");
    assert!(bytes.len() < event["d"].to_string().len(), "compressed");
    assert_ne!(heartbeat(&mut ws, &mut decoder).await, stored_ack);
    assert_eq!(heartbeat(&mut ws, &mut decoder).await, stored_ack);
}

/// zlib-stream sessions' events are compressed by the writers, each into
/// its own session's stream, between frames the session's task compresses
/// itself (heartbeat ACKs): every message decodes, in order, numbered
/// without a gap.
#[tokio::test]
async fn zlib_stream_sessions_get_every_event_in_order_between_their_own_frames() {
    let n = single().await;
    let mut sessions = vec![zlib_session(&n).await, zlib_session(&n).await];
    let gateway = n.gateway.clone();
    let publisher = tokio::spawn(async move {
        for i in 1..=300 {
            gateway.publish(&message(i, 10)).await.unwrap();
            if i % 50 == 0 {
                tokio::task::yield_now().await;
            }
        }
    });
    for (ws, decoder) in &mut sessions {
        let mut contents = Vec::new();
        let mut seqs = Vec::new();
        let mut acks = 0;
        let mut beats = 0;
        while contents.len() < 300 {
            if contents.len() / 60 >= beats {
                ws.send(Message::text(r#"{"op":1,"d":null}"#))
                    .await
                    .unwrap();
                beats += 1;
            }
            let payload = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                next_decoded(ws, decoder),
            )
            .await
            .expect("the events keep coming");
            match payload["op"].as_u64() {
                Some(11) => acks += 1,
                Some(0) => {
                    assert_eq!(payload["t"], "MESSAGE_CREATE");
                    seqs.push(payload["s"].as_u64().unwrap());
                    contents.push(payload["d"]["content"].as_str().unwrap().to_owned());
                }
                _ => panic!("unexpected payload {payload}"),
            }
        }
        let want: Vec<String> = (1..=300).map(|i| format!("message {i}")).collect();
        assert_eq!(contents, want);
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0] + 1),
            "numbered without a gap: {seqs:?}"
        );
        while acks < beats {
            let payload = next_decoded(ws, decoder).await;
            assert_eq!(payload["op"], 11, "nothing but ACKs is left");
            acks += 1;
        }
    }
    publisher.await.unwrap();
}

#[tokio::test]
async fn zstd_stream_compresses_every_payload() {
    use discord_proto::compression::{Decoder, TransportCompression};
    let n = single().await;
    let url = format!("ws://{}/?v=10&encoding=json&compress=zstd-stream", n.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut decoder = Decoder::new(TransportCompression::ZstdStream, 1 << 20).unwrap();
    match futures::StreamExt::next(&mut ws).await.unwrap().unwrap() {
        Message::Binary(b) => {
            let out = decoder.push(&b).unwrap().expect("one message per frame");
            assert!(String::from_utf8(out).unwrap().contains(r#""op":10"#));
        }
        other => panic!("expected binary, got {other:?}"),
    }
}

#[tokio::test]
async fn request_guild_members_answers_with_chunks() {
    let n = single().await;
    let mut c = Client::identify(n.addr, 3, ALL).await;
    c.send(json!({"op": 8, "d": {"guild_id": "100", "query": "user", "limit": 2, "nonce": "abc"}}))
        .await;
    let chunk = c.dispatch("GUILD_MEMBERS_CHUNK").await;
    assert_eq!(chunk["d"]["guild_id"], "100");
    assert_eq!(chunk["d"]["members"].as_array().unwrap().len(), 2);
    assert_eq!(chunk["d"]["chunk_index"], 0);
    assert_eq!(chunk["d"]["chunk_count"], 1);
    assert_eq!(chunk["d"]["nonce"], "abc");
    c.send(json!({"op": 8, "d": {"guild_id": "100", "user_ids": ["2", "77"], "presences": true}}))
        .await;
    let chunk = c.dispatch("GUILD_MEMBERS_CHUNK").await;
    let members = chunk["d"]["members"].as_array().unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["user"]["id"], "2");
    assert_eq!(chunk["d"]["not_found"], json!(["77"]));
    assert!(chunk["d"]["presences"].is_array());
}

#[tokio::test]
async fn large_guilds_send_only_online_members() {
    let data = Data::new();
    // Pretend the guild is bigger than any large_threshold.
    data.guilds.lock().unwrap()[0].member_count = 1000;
    let n = node(config("a"), memory_stores(100), data).await;
    // User 1 comes online first.
    let _online = Client::identify(n.addr, 1, ALL).await;
    let mut c = Client::connect(n.addr, "v=10&encoding=json").await;
    c.payload().await;
    let mut ident = identify(3, ALL);
    ident["d"]["large_threshold"] = json!(50);
    c.send(ident).await;
    let gc = c.dispatch("GUILD_CREATE").await;
    assert_eq!(gc["d"]["large"], true);
    assert_eq!(gc["d"]["member_count"], 1000);
    let mut members: Vec<String> = gc["d"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"]["id"].as_str().unwrap().to_owned())
        .collect();
    members.sort();
    assert_eq!(members, ["1", "3"], "online members and the user itself");
    // With GUILD_PRESENCES, the online member's presence comes along.
    let presences = gc["d"]["presences"].as_array().unwrap();
    assert!(
        presences
            .iter()
            .any(|p| p["user"]["id"] == "1" && p["status"] == "online")
    );
}

#[tokio::test]
async fn the_whole_member_list_needs_the_guild_members_intent() {
    let n = single().await;
    let mut with = Client::identify(n.addr, 3, ALL).await;
    with.send(json!({"op": 8, "d": {"guild_id": "100", "query": "", "limit": 0, "nonce": "all"}}))
        .await;
    let chunk = with.dispatch("GUILD_MEMBERS_CHUNK").await;
    assert_eq!(chunk["d"]["members"].as_array().unwrap().len(), 4);
    let mut without = Client::identify(n.addr, 2, Intents::GUILDS).await;
    without
        .send(json!({"op": 8, "d": {"guild_id": "100", "query": "", "limit": 0, "nonce": "all"}}))
        .await;
    let chunk = without.dispatch("GUILD_MEMBERS_CHUNK").await;
    assert_eq!(chunk["d"]["members"], json!([]));
    assert_eq!(chunk["d"]["nonce"], "all");
}
