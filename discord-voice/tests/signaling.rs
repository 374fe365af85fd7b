//! The voice signaling WebSocket with a raw client: the handshake, close
//! codes for bad input, heartbeats and RESUME.

mod common;

use std::time::Duration;

use common::*;
use discord_proto::voice::{
    SdpData, SdpKind, SelectProtocol, VoiceHeartbeat, VoiceIdentify, VoicePayload, VoiceResume,
};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(endpoint: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{endpoint}?v=8"))
        .await
        .unwrap();
    match recv(&mut ws).await {
        Ok(VoicePayload::Hello(h)) => assert!(h.heartbeat_interval > 0.0),
        other => panic!("expected HELLO, got {other:?}"),
    }
    ws
}

async fn send(ws: &mut Ws, payload: &VoicePayload) {
    ws.send(Message::text(payload.to_json())).await.unwrap();
}

/// The next payload, or the close code.
async fn recv(ws: &mut Ws) -> Result<VoicePayload, Option<u16>> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("no frame within 10 s");
        match frame {
            Some(Ok(Message::Text(t))) => return Ok(VoicePayload::from_json(t.as_str()).unwrap()),
            Some(Ok(Message::Close(f))) => return Err(f.map(|f| u16::from(f.code))),
            Some(Ok(_)) => {}
            _ => return Err(None),
        }
    }
}

/// Reads until the connection closes; returns the close code.
async fn closed_with(ws: &mut Ws) -> Option<u16> {
    loop {
        if let Err(code) = recv(ws).await {
            return code;
        }
    }
}

fn identify(info: &discord_client::voice::VoiceServerInfo) -> VoicePayload {
    VoicePayload::Identify(VoiceIdentify {
        server_id: info.guild_id,
        user_id: info.user_id,
        session_id: info.session_id.clone(),
        token: info.token.clone(),
    })
}

/// SELECT_PROTOCOL with an offer.
fn select(protocol: &str, sdp: &str) -> VoicePayload {
    VoicePayload::SelectProtocol(SelectProtocol {
        protocol: protocol.into(),
        data: SdpData {
            kind: SdpKind::Offer,
            sdp: sdp.into(),
        },
    })
}

/// RESUME of `info`'s session with `token`.
fn resume(info: &discord_client::voice::VoiceServerInfo, token: &str) -> VoicePayload {
    VoicePayload::Resume(VoiceResume {
        server_id: info.guild_id,
        session_id: info.session_id.clone(),
        token: token.to_owned(),
    })
}

/// A connection that has identified and got READY.
async fn identified(info: &discord_client::voice::VoiceServerInfo) -> Ws {
    let mut ws = connect(&info.endpoint).await;
    send(&mut ws, &identify(info)).await;
    match recv(&mut ws).await {
        Ok(VoicePayload::Ready(_)) => ws,
        other => panic!("expected READY, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identify_gets_ready_and_heartbeats_are_acknowledged() {
    let voice = node(0).await;
    let info = grant(&voice, 21).await;
    let mut ws = connect(&info.endpoint).await;
    send(&mut ws, &identify(&info)).await;
    let Ok(VoicePayload::Ready(ready)) = recv(&mut ws).await else {
        panic!("no READY");
    };
    assert_eq!(ready.channel_id, CHANNEL);
    assert_eq!(ready.modes, vec!["webrtc".to_owned()]);
    send(
        &mut ws,
        &VoicePayload::Heartbeat(VoiceHeartbeat {
            t: 1234,
            seq_ack: None,
        }),
    )
    .await;
    loop {
        match recv(&mut ws).await.unwrap() {
            VoicePayload::HeartbeatAck(ack) => {
                assert_eq!(ack.t, 1234);
                break;
            }
            VoicePayload::ClientsConnect(c) => assert!(c.user_ids.is_empty()),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(voice.sfu().participant_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_the_documented_close_codes() {
    let voice = node(0).await;
    let info = grant(&voice, 22).await;

    // A wrong token: 4004.
    let mut ws = connect(&info.endpoint).await;
    let mut wrong = info.clone();
    wrong.token = "0".repeat(32);
    send(&mut ws, &identify(&wrong)).await;
    assert_eq!(closed_with(&mut ws).await, Some(4004));

    // The right token for someone else: 4004.
    let mut ws = connect(&info.endpoint).await;
    let mut other = info.clone();
    other.user_id = discord_proto::Snowflake::new(99);
    send(&mut ws, &identify(&other)).await;
    assert_eq!(closed_with(&mut ws).await, Some(4004));

    // Anything but IDENTIFY or RESUME first: 4003.
    let mut ws = connect(&info.endpoint).await;
    send(&mut ws, &select("webrtc", "v=0")).await;
    assert_eq!(closed_with(&mut ws).await, Some(4003));

    // An unknown opcode: 4001; something that is not JSON: 4002.
    let mut ws = connect(&info.endpoint).await;
    ws.send(Message::text(r#"{"op":77,"d":{}}"#)).await.unwrap();
    assert_eq!(closed_with(&mut ws).await, Some(4001));
    let mut ws = connect(&info.endpoint).await;
    ws.send(Message::text("{not json")).await.unwrap();
    assert_eq!(closed_with(&mut ws).await, Some(4002));

    // Identified: a second IDENTIFY is 4005, a protocol other than WebRTC
    // 4012, an SDP that does not parse 4020.
    let mut ws = identified(&info).await;
    send(&mut ws, &identify(&info)).await;
    assert_eq!(closed_with(&mut ws).await, Some(4005));

    let mut ws = identified(&info).await;
    send(&mut ws, &select("udp", "")).await;
    assert_eq!(closed_with(&mut ws).await, Some(4012));

    let mut ws = identified(&info).await;
    send(&mut ws, &select("webrtc", "this is not sdp")).await;
    assert_eq!(closed_with(&mut ws).await, Some(4020));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_resumes_with_its_token() {
    let voice = node(0).await;
    let info = grant(&voice, 23).await;
    let ws = identified(&info).await;
    drop(ws);

    // The participant survives the drop; RESUME picks it up.
    let mut ws = connect(&info.endpoint).await;
    send(&mut ws, &resume(&info, &info.token)).await;
    assert_eq!(recv(&mut ws).await, Ok(VoicePayload::Resumed));
    assert_eq!(voice.sfu().participant_count(), 1);

    // A RESUME with a token that is not the participant's: 4006.
    let mut ws = connect(&info.endpoint).await;
    send(&mut ws, &resume(&info, &"f".repeat(32))).await;
    assert_eq!(closed_with(&mut ws).await, Some(4006));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_connection_of_a_user_replaces_the_first() {
    let voice = node(0).await;
    let info = grant(&voice, 24).await;
    let mut ws = identified(&info).await;
    let _again = identified(&info).await;
    assert_eq!(closed_with(&mut ws).await, Some(4014));
    assert_eq!(voice.sfu().participant_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_node_closes_identify_with_4023() {
    let voice = node_with(0, |c| c.max_per_node = 1).await;
    let first = grant(&voice, 25).await;
    let second = grant(&voice, 26).await;
    let _ws = identified(&first).await;
    let mut full = connect(&second.endpoint).await;
    send(&mut full, &identify(&second)).await;
    assert_eq!(closed_with(&mut full).await, Some(4023));
    assert_eq!(voice.sfu().participant_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_times_out_with_4009() {
    let voice = node_with(0, |c| c.heartbeat_interval = Duration::from_millis(200)).await;
    let info = grant(&voice, 27).await;
    let mut ws = identified(&info).await;
    assert_eq!(closed_with(&mut ws).await, Some(4009));
}
