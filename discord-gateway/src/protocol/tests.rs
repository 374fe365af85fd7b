//! The connection protocol driven directly, one behaviour per test.

use std::time::{Duration, Instant};

use discord_proto::gateway::{CloseCode, ServerMessage};

use super::{Limits, Phase, Protocol, Step};

fn limits() -> Limits {
    Limits {
        heartbeat_interval: Duration::from_secs(40),
        heartbeat_timeout: Duration::from_secs(80),
        identify_timeout: Duration::from_secs(30),
        commands_per_window: 120,
        command_window: Duration::from_secs(60),
        max_frame_size: 4096,
    }
}

const IDENTIFY: &str = r#"{"op":2,"d":{"token":"t","properties":{"os":"l","browser":"b","device":"d"},"intents":513}}"#;

fn ready(now: Instant) -> Protocol {
    let mut p = Protocol::new(limits(), now);
    assert!(matches!(
        p.receive(IDENTIFY.as_bytes(), now),
        Step::Identify(_)
    ));
    p.identified();
    p
}

fn close_code(step: Step) -> CloseCode {
    match step {
        Step::Close(code) => code,
        other => panic!("expected a close, got {other:?}"),
    }
}

#[test]
fn hello_carries_the_heartbeat_interval() {
    let p = Protocol::new(limits(), Instant::now());
    match ServerMessage::decode(p.hello().as_bytes()).unwrap() {
        ServerMessage::Hello(h) => assert_eq!(h.heartbeat_interval, 40_000),
        other => panic!("{other:?}"),
    }
}

#[test]
fn heartbeat_is_acknowledged_before_and_after_identify() {
    let now = Instant::now();
    let mut p = Protocol::new(limits(), now);
    let ack = ServerMessage::HeartbeatAck.encode();
    assert_eq!(
        p.receive(br#"{"op":1,"d":null}"#, now),
        Step::Send(ack.clone())
    );
    let mut p = ready(now);
    assert_eq!(p.receive(br#"{"op":1,"d":5}"#, now), Step::Send(ack));
}

#[test]
fn identify_is_handed_to_the_driver_once() {
    let now = Instant::now();
    let mut p = Protocol::new(limits(), now);
    match p.receive(IDENTIFY.as_bytes(), now) {
        Step::Identify(id) => assert_eq!(id.token, "t"),
        other => panic!("{other:?}"),
    }
    assert_eq!(p.phase(), Phase::Authenticating);
    // A second IDENTIFY while the first is being checked, or after READY.
    assert_eq!(
        close_code(p.receive(IDENTIFY.as_bytes(), now)),
        CloseCode::AlreadyAuthenticated
    );
    let mut p = ready(now);
    assert_eq!(
        close_code(p.receive(IDENTIFY.as_bytes(), now)),
        CloseCode::AlreadyAuthenticated
    );
}

#[test]
fn commands_before_identify_close_with_4003() {
    let now = Instant::now();
    for frame in [
        r#"{"op":3,"d":{"since":null,"activities":[],"status":"idle","afk":false}}"#,
        r#"{"op":8,"d":{"guild_id":"1","query":"","limit":0}}"#,
        r#"{"op":4,"d":{"guild_id":"1","channel_id":null,"self_mute":false,"self_deaf":false}}"#,
    ] {
        let mut p = Protocol::new(limits(), now);
        assert_eq!(
            close_code(p.receive(frame.as_bytes(), now)),
            CloseCode::NotAuthenticated
        );
        assert_eq!(p.phase(), Phase::Closed);
        // Nothing more happens on a closed connection.
        assert_eq!(p.receive(IDENTIFY.as_bytes(), now), Step::Nothing);
    }
}

#[test]
fn commands_after_ready_go_to_the_driver() {
    let now = Instant::now();
    let mut p = ready(now);
    assert!(matches!(
        p.receive(
            br#"{"op":3,"d":{"since":null,"activities":[],"status":"idle","afk":false}}"#,
            now
        ),
        Step::PresenceUpdate(_)
    ));
    assert!(matches!(
        p.receive(
            br#"{"op":8,"d":{"guild_id":"1","query":"","limit":0}}"#,
            now
        ),
        Step::RequestGuildMembers(_)
    ));
    assert!(matches!(
        p.receive(
            br#"{"op":4,"d":{"guild_id":"1","channel_id":"2","self_mute":false,"self_deaf":true}}"#,
            now
        ),
        Step::VoiceStateUpdate(_)
    ));
}

#[test]
fn bad_frames_close_with_their_codes() {
    let now = Instant::now();
    // Discord: 4002 for bytes that are no payload, 4001 for an unknown
    // opcode or an invalid payload for a known one.
    let cases: [(&str, CloseCode); 5] = [
        ("not json", CloseCode::DecodeError),
        (r#"{"op":2,"d":{"token":1}}"#, CloseCode::UnknownOpcode),
        (r#"{"op":5,"d":null}"#, CloseCode::UnknownOpcode),
        (r#"{"op":11,"d":null}"#, CloseCode::UnknownOpcode),
        (
            r#"{"op":2,"d":{"token":"t","properties":{},"intents":4194304}}"#,
            CloseCode::InvalidIntents,
        ),
    ];
    for (frame, code) in cases {
        let mut p = Protocol::new(limits(), now);
        assert_eq!(
            close_code(p.receive(frame.as_bytes(), now)),
            code,
            "{frame}"
        );
    }
}

#[test]
fn invalid_shards_close_with_4010() {
    let now = Instant::now();
    for shard in ["[1,1]", "[0,0]", "[5,2]"] {
        let frame = format!(
            r#"{{"op":2,"d":{{"token":"t","properties":{{}},"intents":1,"shard":{shard}}}}}"#
        );
        let mut p = Protocol::new(limits(), now);
        assert_eq!(
            close_code(p.receive(frame.as_bytes(), now)),
            CloseCode::InvalidShard,
            "{shard}"
        );
    }
    let mut p = Protocol::new(limits(), now);
    let ok = r#"{"op":2,"d":{"token":"t","properties":{},"intents":1,"shard":[1,2]}}"#;
    assert!(matches!(p.receive(ok.as_bytes(), now), Step::Identify(_)));
}

#[test]
fn oversized_frames_close_with_4002() {
    let now = Instant::now();
    let mut p = Protocol::new(limits(), now);
    let big = format!(r#"{{"op":1,"d":null,"pad":"{}"}}"#, "x".repeat(5000));
    assert_eq!(
        close_code(p.receive(big.as_bytes(), now)),
        CloseCode::DecodeError
    );
}

#[test]
fn more_than_120_commands_a_minute_close_with_4008() {
    let now = Instant::now();
    let mut p = ready(now); // IDENTIFY was command 1
    for i in 0..119 {
        let t = now + Duration::from_millis(i * 100);
        assert!(
            matches!(p.receive(br#"{"op":1,"d":1}"#, t), Step::Send(_)),
            "{i}"
        );
    }
    let t = now + Duration::from_secs(15);
    assert_eq!(
        close_code(p.receive(br#"{"op":1,"d":1}"#, t)),
        CloseCode::RateLimited
    );
    // A new window starts the count again.
    let mut p = ready(now);
    for i in 0..119 {
        p.receive(br#"{"op":1,"d":1}"#, now + Duration::from_millis(i));
    }
    let later = now + Duration::from_secs(61);
    assert!(matches!(
        p.receive(br#"{"op":1,"d":1}"#, later),
        Step::Send(_)
    ));
}

#[test]
fn a_late_client_is_asked_for_a_heartbeat_then_closed_as_a_zombie() {
    let now = Instant::now();
    let mut p = ready(now);
    assert_eq!(p.tick(now + Duration::from_secs(45)), Step::Nothing);
    assert_eq!(p.next_deadline(), now + Duration::from_secs(50));
    assert_eq!(
        p.tick(now + Duration::from_secs(50)),
        Step::Send(ServerMessage::Heartbeat.encode())
    );
    // Asked once only.
    assert_eq!(p.tick(now + Duration::from_secs(60)), Step::Nothing);
    assert_eq!(p.next_deadline(), now + Duration::from_secs(80));
    assert_eq!(
        close_code(p.tick(now + Duration::from_secs(80))),
        CloseCode::SessionTimedOut
    );
}

#[test]
fn heartbeats_keep_a_session_alive() {
    let now = Instant::now();
    let mut p = ready(now);
    for i in 1..=10u64 {
        let t = now + Duration::from_secs(40 * i);
        assert!(matches!(p.receive(br#"{"op":1,"d":1}"#, t), Step::Send(_)));
        assert_eq!(p.tick(t + Duration::from_secs(39)), Step::Nothing);
    }
}

#[test]
fn a_connection_that_never_identifies_times_out() {
    let now = Instant::now();
    let mut p = Protocol::new(limits(), now);
    assert_eq!(p.tick(now + Duration::from_secs(29)), Step::Nothing);
    assert_eq!(p.next_deadline(), now + Duration::from_secs(30));
    assert_eq!(
        close_code(p.tick(now + Duration::from_secs(30))),
        CloseCode::SessionTimedOut
    );
}

#[test]
fn dispatches_are_numbered_from_one_and_resume_continues() {
    let now = Instant::now();
    let mut p = ready(now);
    let first = p.dispatch("READY", "{}");
    let second = p.dispatch("GUILD_CREATE", r#"{"id":"1","unavailable":true}"#);
    assert!(first.contains(r#""s":1"#), "{first}");
    assert!(second.contains(r#""s":2"#), "{second}");
    assert_eq!(p.seq(), 2);

    let mut p = Protocol::new(limits(), now);
    let resume = r#"{"op":6,"d":{"token":"t","session_id":"abc","seq":41}}"#;
    assert!(matches!(p.receive(resume.as_bytes(), now), Step::Resume(_)));
    p.resumed(41);
    assert!(p.dispatch("RESUMED", "null").contains(r#""s":42"#));
}

#[test]
fn invalid_session_lets_the_client_identify_again() {
    let now = Instant::now();
    let mut p = Protocol::new(limits(), now);
    let resume = r#"{"op":6,"d":{"token":"t","session_id":"abc","seq":41}}"#;
    assert!(matches!(p.receive(resume.as_bytes(), now), Step::Resume(_)));
    let frame = p.invalid_session(false);
    assert_eq!(
        ServerMessage::decode(frame.as_bytes()).unwrap(),
        ServerMessage::InvalidSession(false)
    );
    assert!(matches!(
        p.receive(IDENTIFY.as_bytes(), now),
        Step::Identify(_)
    ));
}
