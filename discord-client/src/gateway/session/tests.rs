//! The client session driven directly, payload by payload.

use std::time::{Duration, Instant};

use discord_proto::gateway::{ClientCommand, Intents, ServerMessage};

use super::*;

fn session() -> ClientSession {
    ClientSession::new(SessionConfig {
        token: "Bot t".into(),
        intents: Intents::GUILDS,
        shard: Some([1, 2]),
        gateway_url: "ws://gw.example/gateway".into(),
        compression: None,
    })
}

fn decode(json: &str) -> ServerMessage {
    ServerMessage::decode(json.as_bytes()).unwrap()
}

fn ready(seq: u64) -> ServerMessage {
    decode(&format!(
        r#"{{"op":0,"s":{seq},"t":"READY","d":{{"v":10,"user":{{"id":"1","username":"b","discriminator":"0","avatar":null,"global_name":null}},
        "guilds":[],"session_id":"abc","resume_gateway_url":"ws://resume.example/gateway","shard":[1,2],"private_channels":[]}}}}"#
    ))
}

fn hello() -> ServerMessage {
    decode(r#"{"op":10,"d":{"heartbeat_interval":1000}}"#)
}

#[test]
fn hello_identifies_then_heartbeats_with_jitter() {
    let mut s = session();
    let t0 = Instant::now();
    let out = s.on_message(hello(), t0, 0.25);
    let [Output::Send(ClientCommand::Identify(id))] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(id.shard, Some([1, 2]));
    assert_eq!(id.intents, Intents::GUILDS);
    assert_eq!(s.next_deadline(), Some(t0 + Duration::from_millis(250)));
    assert!(s.on_tick(t0 + Duration::from_millis(200)).is_empty());
    assert_eq!(
        s.on_tick(t0 + Duration::from_millis(250)),
        [Output::Send(ClientCommand::Heartbeat(None))]
    );
    assert_eq!(s.next_deadline(), Some(t0 + Duration::from_millis(1250)));
}

#[test]
fn ready_makes_the_session_resumable_at_its_url() {
    let mut s = session();
    let t0 = Instant::now();
    s.on_message(hello(), t0, 0.0);
    let out = s.on_message(ready(1), t0, 0.0);
    assert!(matches!(out.as_slice(), [Output::Deliver { seq: 1, .. }]));
    s.on_message(decode(r#"{"op":0,"s":2,"t":"TYPING_START","d":{"channel_id":"5","user_id":"1","timestamp":1}}"#), t0, 0.0);
    assert_eq!(s.seq(), Some(2));
    assert!(s.resumable());
    assert_eq!(
        s.connect_url(),
        "ws://resume.example/gateway/?v=10&encoding=json"
    );
    // op 7: reconnect at once and RESUME with the last seq.
    let out = s.on_message(decode(r#"{"op":7,"d":null}"#), t0, 0.0);
    assert_eq!(
        out,
        [Output::Reconnect {
            url: "ws://resume.example/gateway/?v=10&encoding=json".into(),
            resume: true,
            after: Duration::ZERO
        }]
    );
    let out = s.on_message(hello(), t0, 0.0);
    let [Output::Send(ClientCommand::Resume(r))] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!((r.session_id.as_str(), r.seq), ("abc", 2));
}

#[test]
fn a_missed_ack_is_a_zombie_and_is_resumed() {
    let mut s = session();
    let t0 = Instant::now();
    s.on_message(hello(), t0, 0.0);
    s.on_message(ready(1), t0, 0.0);
    assert_eq!(
        s.on_tick(t0),
        [Output::Send(ClientCommand::Heartbeat(Some(1)))]
    );
    // Acked: the next beat goes out.
    assert!(s.on_message(decode(r#"{"op":11}"#), t0, 0.0).is_empty());
    let t1 = t0 + Duration::from_secs(1);
    assert_eq!(
        s.on_tick(t1),
        [Output::Send(ClientCommand::Heartbeat(Some(1)))]
    );
    // Not acked before the next: zombie.
    let out = s.on_tick(t1 + Duration::from_secs(1));
    assert!(
        matches!(out.as_slice(), [Output::Reconnect { resume: true, .. }]),
        "{out:?}"
    );
    // The server asking for a beat gets one at once.
    assert_eq!(
        s.on_message(decode(r#"{"op":1,"d":null}"#), t1, 0.0),
        [Output::Send(ClientCommand::Heartbeat(Some(1)))]
    );
}

#[test]
fn invalid_sessions_and_close_codes() {
    let mut s = session();
    let t0 = Instant::now();
    s.on_message(hello(), t0, 0.0);
    s.on_message(ready(1), t0, 0.0);
    // Resumable op 9: resume at once.
    let out = s.on_message(decode(r#"{"op":9,"d":true}"#), t0, 0.5);
    assert!(matches!(
        out.as_slice(),
        [Output::Reconnect { resume: true, .. }]
    ));
    // Not resumable: identify again after 1-5 s, at the gateway URL.
    let out = s.on_message(decode(r#"{"op":9,"d":false}"#), t0, 0.5);
    assert_eq!(
        out,
        [Output::Reconnect {
            url: "ws://gw.example/gateway/?v=10&encoding=json".into(),
            resume: false,
            after: Duration::from_millis(3000)
        }]
    );
    assert!(!s.resumable());
    // Fatal codes stop; 4009 forgets the session; others resume.
    for code in [4004, 4010, 4011, 4012, 4013, 4014] {
        assert_eq!(session().on_close(Some(code), 0.0), Output::Fatal(code));
    }
    let mut s = session();
    s.on_message(hello(), t0, 0.0);
    s.on_message(ready(3), t0, 0.0);
    assert!(matches!(
        s.on_close(Some(4000), 0.0),
        Output::Reconnect { resume: true, .. }
    ));
    assert!(matches!(
        s.on_close(Some(4009), 0.0),
        Output::Reconnect { resume: false, .. }
    ));
}

#[test]
fn compression_is_asked_for_in_the_url() {
    let s = ClientSession::new(SessionConfig {
        token: "t".into(),
        intents: Intents::empty(),
        shard: None,
        gateway_url: "ws://gw.example/".into(),
        compression: Some(discord_proto::compression::TransportCompression::ZstdStream),
    });
    assert_eq!(
        s.connect_url(),
        "ws://gw.example/?v=10&encoding=json&compress=zstd-stream"
    );
}

#[test]
fn failed_connections_back_off_exponentially_up_to_a_minute() {
    let mut s = session();
    let waits: Vec<Duration> = (0..9)
        .map(|_| match s.on_connect_failed(1.0) {
            Output::Reconnect { after, .. } => after,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(waits[0], Duration::ZERO);
    assert_eq!(waits[1], Duration::from_secs(2));
    assert_eq!(waits[2], Duration::from_secs(4));
    assert!(waits.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(*waits.last().unwrap(), Duration::from_secs(60));
    // A READY resets it.
    s.on_message(hello(), Instant::now(), 0.0);
    s.on_message(ready(1), Instant::now(), 0.0);
    assert!(matches!(
        s.on_connect_failed(1.0),
        Output::Reconnect {
            after: Duration::ZERO,
            ..
        }
    ));
}
