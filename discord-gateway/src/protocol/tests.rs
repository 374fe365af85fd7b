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
fn commands_before_identify_count_toward_the_limit_too() {
    let now = Instant::now();
    let mut p = Protocol::new(limits(), now);
    for i in 0..120 {
        assert!(
            matches!(p.receive(br#"{"op":1,"d":null}"#, now), Step::Send(_)),
            "{i}"
        );
    }
    assert_eq!(
        close_code(p.receive(IDENTIFY.as_bytes(), now)),
        CloseCode::RateLimited
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
fn a_heartbeat_after_a_request_lets_the_next_lateness_be_asked_about() {
    let now = Instant::now();
    let mut p = ready(now);
    let ask = Step::Send(ServerMessage::Heartbeat.encode());
    assert_eq!(p.tick(now + Duration::from_secs(50)), ask);
    let beat = now + Duration::from_secs(55);
    assert!(matches!(
        p.receive(br#"{"op":1,"d":null}"#, beat),
        Step::Send(_)
    ));
    assert_eq!(p.next_deadline(), beat + Duration::from_secs(50));
    assert_eq!(p.tick(beat + Duration::from_secs(50)), ask, "asked again");
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

/// Any sequence of frames, clock ticks and driver answers, checked
/// against a model of the rules: the close code each input must get, or
/// what it must hand over, and nothing at all once closed.
mod model {
    use proptest::prelude::*;

    use super::*;

    #[derive(Clone, Debug)]
    enum Input {
        Frame(Frame),
        /// Time passes (ms), then `tick`.
        Tick(u64),
        /// Time passes (ms) with no tick.
        Wait(u64),
        Identified,
        Resumed(u64),
        InvalidSession(bool),
    }

    #[derive(Clone, Copy, Debug)]
    enum Frame {
        Heartbeat,
        Identify,
        IdentifyBadIntents,
        IdentifyBadShard,
        Resume,
        Presence,
        RequestMembers,
        UnknownOp,
        Garbage,
        Oversized,
    }

    impl Frame {
        fn bytes(self) -> Vec<u8> {
            match self {
                Frame::Heartbeat => br#"{"op":1,"d":null}"#.to_vec(),
                Frame::Identify => IDENTIFY.as_bytes().to_vec(),
                Frame::IdentifyBadIntents => {
                    br#"{"op":2,"d":{"token":"t","properties":{},"intents":4194304}}"#.to_vec()
                }
                Frame::IdentifyBadShard => {
                    br#"{"op":2,"d":{"token":"t","properties":{},"intents":1,"shard":[3,2]}}"#
                        .to_vec()
                }
                Frame::Resume => br#"{"op":6,"d":{"token":"t","session_id":"s","seq":3}}"#.to_vec(),
                Frame::Presence => {
                    br#"{"op":3,"d":{"since":null,"activities":[],"status":"online","afk":false}}"#
                        .to_vec()
                }
                Frame::RequestMembers => {
                    br#"{"op":8,"d":{"guild_id":"1","query":"","limit":0}}"#.to_vec()
                }
                Frame::UnknownOp => br#"{"op":5,"d":null}"#.to_vec(),
                Frame::Garbage => b"{nope".to_vec(),
                Frame::Oversized => vec![b' '; 4097],
            }
        }
    }

    fn input() -> impl Strategy<Value = Input> {
        // Heartbeats often, so that sequences reach the rate limit in
        // every phase.
        let frame = prop::sample::select(vec![
            Frame::Heartbeat,
            Frame::Heartbeat,
            Frame::Heartbeat,
            Frame::Heartbeat,
            Frame::Identify,
            Frame::Identify,
            Frame::IdentifyBadIntents,
            Frame::IdentifyBadShard,
            Frame::Resume,
            Frame::Presence,
            Frame::Presence,
            Frame::RequestMembers,
            Frame::UnknownOp,
            Frame::Garbage,
            Frame::Oversized,
        ]);
        // Short steps; steps around the heartbeat deadlines (12.5 s to
        // ask, 20 s to close); any.
        let ms = prop_oneof![3 => 0u64..2_000, 2 => 10_000u64..20_000, 1 => 0u64..30_000];
        prop_oneof![
            8 => frame.prop_map(Input::Frame),
            2 => ms.clone().prop_map(Input::Tick),
            1 => ms.prop_map(Input::Wait),
            2 => Just(Input::Identified),
            1 => (0u64..50).prop_map(Input::Resumed),
            1 => any::<bool>().prop_map(Input::InvalidSession),
        ]
    }

    /// Limits small enough for a sequence to reach each of them.
    fn small(commands_per_window: u32) -> Limits {
        Limits {
            heartbeat_interval: Duration::from_secs(10),
            heartbeat_timeout: Duration::from_secs(20),
            identify_timeout: Duration::from_secs(15),
            commands_per_window,
            command_window: Duration::from_secs(8),
            max_frame_size: 4096,
        }
    }

    /// The rules, kept as plainly as they are documented.
    struct Model {
        phase: Phase,
        opened: Instant,
        last_heartbeat: Instant,
        asked: bool,
        window_start: Instant,
        in_window: u32,
    }

    impl Model {
        fn receive(
            &mut self,
            frame: Frame,
            now: Instant,
            l: &Limits,
        ) -> Result<&'static str, CloseCode> {
            if frame.bytes().len() > l.max_frame_size {
                return Err(CloseCode::DecodeError);
            }
            if now - self.window_start >= l.command_window {
                self.window_start = now;
                self.in_window = 0;
            }
            self.in_window += 1;
            if self.in_window > l.commands_per_window {
                return Err(CloseCode::RateLimited);
            }
            let connected = self.phase == Phase::Connected;
            let ready = self.phase == Phase::Ready;
            match frame {
                Frame::Garbage | Frame::Oversized => Err(CloseCode::DecodeError),
                Frame::UnknownOp => Err(CloseCode::UnknownOpcode),
                Frame::Heartbeat => {
                    self.last_heartbeat = now;
                    self.asked = false;
                    Ok("ack")
                }
                Frame::Identify
                | Frame::IdentifyBadIntents
                | Frame::IdentifyBadShard
                | Frame::Resume
                    if !connected =>
                {
                    Err(CloseCode::AlreadyAuthenticated)
                }
                Frame::IdentifyBadIntents => Err(CloseCode::InvalidIntents),
                Frame::IdentifyBadShard => Err(CloseCode::InvalidShard),
                Frame::Identify => {
                    self.phase = Phase::Authenticating;
                    Ok("identify")
                }
                Frame::Resume => {
                    self.phase = Phase::Authenticating;
                    Ok("resume")
                }
                Frame::Presence | Frame::RequestMembers if !ready => {
                    Err(CloseCode::NotAuthenticated)
                }
                Frame::Presence => Ok("presence"),
                Frame::RequestMembers => Ok("members"),
            }
        }

        fn tick(&mut self, now: Instant, l: &Limits) -> Result<&'static str, CloseCode> {
            // Before the session starts, its time to identify runs out too;
            // heartbeats are due from HELLO on, whatever the phase.
            if matches!(self.phase, Phase::Connected | Phase::Authenticating)
                && now - self.opened >= l.identify_timeout
            {
                return Err(CloseCode::SessionTimedOut);
            }
            let silent = now - self.last_heartbeat;
            if silent >= l.heartbeat_timeout {
                Err(CloseCode::SessionTimedOut)
            } else if !self.asked && silent >= l.heartbeat_interval * 5 / 4 {
                self.asked = true;
                Ok("heartbeat request")
            } else {
                Ok("nothing")
            }
        }
    }

    /// What a step was, in the model's words.
    fn said(step: Step) -> Result<&'static str, CloseCode> {
        match step {
            Step::Close(code) => Err(code),
            Step::Send(frame) => match ServerMessage::decode(frame.as_bytes()).unwrap() {
                ServerMessage::HeartbeatAck => Ok("ack"),
                ServerMessage::Heartbeat => Ok("heartbeat request"),
                other => panic!("unexpected frame {other:?}"),
            },
            Step::Identify(_) => Ok("identify"),
            Step::Resume(_) => Ok("resume"),
            Step::PresenceUpdate(_) => Ok("presence"),
            Step::RequestGuildMembers(_) => Ok("members"),
            Step::Nothing => Ok("nothing"),
            Step::VoiceStateUpdate(_) => panic!("no voice update was sent"),
        }
    }

    proptest! {
        // Some rules need a particular run of inputs (a request for a
        // heartbeat, a heartbeat, then lateness again): more cases than
        // the default find them (about 2,800 found one such slip).
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn every_input_gets_what_the_rules_say(
            inputs in prop::collection::vec(input(), 1..60),
            commands_per_window in prop::sample::select(vec![2u32, 3, 6, 120]),
        ) {
            let limits = small(commands_per_window);
            let start = Instant::now();
            let mut now = start;
            let mut p = Protocol::new(limits, now);
            let mut m = Model {
                phase: Phase::Connected,
                opened: now,
                last_heartbeat: now,
                asked: false,
                window_start: now,
                in_window: 0,
            };
            let mut closed = false;
            for (i, input) in inputs.into_iter().enumerate() {
                let (got, want) = match input {
                    Input::Frame(f) => (said(p.receive(&f.bytes(), now)), m.receive(f, now, &limits)),
                    Input::Tick(ms) => {
                        now += Duration::from_millis(ms);
                        (said(p.tick(now)), m.tick(now, &limits))
                    }
                    Input::Wait(ms) => {
                        now += Duration::from_millis(ms);
                        continue;
                    }
                    Input::Identified | Input::Resumed(_) => {
                        if let Input::Resumed(seq) = input {
                            p.resumed(seq);
                        } else {
                            p.identified();
                        }
                        if !closed && m.phase == Phase::Authenticating {
                            m.phase = Phase::Ready;
                        }
                        prop_assert_eq!(p.phase(), if closed { Phase::Closed } else { m.phase });
                        continue;
                    }
                    Input::InvalidSession(resumable) => {
                        let frame = p.invalid_session(resumable);
                        prop_assert_eq!(
                            ServerMessage::decode(frame.as_bytes()).unwrap(),
                            ServerMessage::InvalidSession(resumable)
                        );
                        if !closed {
                            m.phase = Phase::Connected;
                        }
                        prop_assert_eq!(p.phase(), if closed { Phase::Closed } else { m.phase });
                        continue;
                    }
                };
                if closed {
                    prop_assert_eq!(got, Ok("nothing"), "input {} after the close", i);
                    continue;
                }
                prop_assert_eq!(got, want, "input {}", i);
                if got.is_err() {
                    closed = true;
                    prop_assert_eq!(p.phase(), Phase::Closed);
                } else {
                    prop_assert_eq!(p.phase(), m.phase, "input {}", i);
                }
            }
        }
    }
}
