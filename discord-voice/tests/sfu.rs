//! Real WebRTC peers (discord-client's voice connection) in one channel of
//! an SFU node: who hears whom, mute, deafen, leaving, video and keyframe
//! requests.

mod common;

use std::sync::atomic::Ordering;

use common::*;
use discord_client::voice::{MediaKind, VoiceEvent};
use discord_proto::Snowflake;

const A: u64 = 11;
const B: u64 = 12;
const C: u64 = 13;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_reaches_the_other_two_and_not_the_sender() {
    let voice = node(0).await;
    let mut a = join(&voice, A, false).await;
    let mut b = join(&voice, B, false).await;
    let mut c = join(&voice, C, false).await;
    assert_eq!(voice.sfu().participant_count(), 3);

    talk_until_heard(&a, &mut b, 0xA1).await;
    talk_until_heard(&a, &mut c, 0xA1).await;
    // B and C each saw A start speaking.
    for listener in [&b, &c] {
        assert!(
            listener.seen.iter().any(|e| {
                matches!(e, VoiceEvent::Speaking { user_id, speaking: true } if user_id.get() == A)
            }),
            "{} never saw A speaking",
            listener.user
        );
    }
    // And A, who joined first, learnt of both.
    let mut joined = Vec::new();
    for e in a.drain() {
        if let VoiceEvent::ClientsConnect(users) = &e {
            joined.extend(users.iter().map(|u| u.get()));
        }
        if let VoiceEvent::Rtp { user_id, .. } = &e {
            assert_ne!(user_id.get(), A, "the sender's own audio came back");
        }
    }
    joined.sort();
    assert_eq!(joined, vec![B, C]);
    // B talks too: A and C hear B, B does not hear itself.
    talk_until_heard(&b, &mut a, 0xB1).await;
    talk_until_heard(&b, &mut c, 0xB1).await;
    assert_eq!(audio_count(&b.drain(), b.user, 0xB1), 0);
    assert!(voice.sfu().stats().forwarded.load(Ordering::Relaxed) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_muted_speaker_is_not_forwarded() {
    let voice = node(0).await;
    let a = join(&voice, A, false).await;
    let mut b = join(&voice, B, false).await;
    talk_until_heard(&a, &mut b, 0x01).await;

    // A mutes itself (op 4 with self_mute) and keeps sending.
    voice
        .join(&session(A), GUILD, CHANNEL, true, false)
        .await
        .unwrap();
    assert!(
        voice
            .voice_state(GUILD, a.user)
            .await
            .unwrap()
            .unwrap()
            .self_mute
    );
    let dropped_before = voice.sfu().stats().dropped_muted.load(Ordering::Relaxed);
    talk(&a, 0x02, 25).await;
    // Every one of them reached the SFU (and was dropped) before A is
    // unmuted again.
    wait_until("25 muted packets dropped", || {
        voice.sfu().stats().dropped_muted.load(Ordering::Relaxed) >= dropped_before + 25
    })
    .await;
    voice
        .join(&session(A), GUILD, CHANNEL, false, false)
        .await
        .unwrap();
    talk_until_heard(&a, &mut b, 0x03).await;
    let muted = audio_count(&b.seen, a.user, 0x02) + audio_count(&b.drain(), a.user, 0x02);
    assert_eq!(muted, 0, "{muted} packets sent while muted were forwarded");
    assert!(voice.sfu().stats().dropped_muted.load(Ordering::Relaxed) >= 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_speak_a_server_unmute_does_not_make_anyone_heard() {
    let voice = node_full(0, false, |_| {}).await;
    let a = join(&voice, A, false).await;
    let _b = join(&voice, B, false).await;
    // A server mute and unmute: the voice state is unmuted again, but A
    // still lacks SPEAK.
    voice
        .set_server_flags(GUILD, a.user, Some(true), None)
        .await;
    voice
        .set_server_flags(GUILD, a.user, Some(false), None)
        .await;
    assert!(
        !voice
            .voice_state(GUILD, a.user)
            .await
            .unwrap()
            .unwrap()
            .mute
    );
    let before = voice.sfu().stats().dropped_muted.load(Ordering::Relaxed);
    // Talk until 25 packets have reached the SFU (the first ones may go
    // before the connection is up).
    tokio::select! {
        _ = talk(&a, 0x07, 500) => panic!("A's audio never reached the SFU"),
        _ = wait_until("A's audio dropped", || {
            voice.sfu().stats().dropped_muted.load(Ordering::Relaxed) >= before + 25
        }) => {}
    }
    assert_eq!(voice.sfu().stats().forwarded.load(Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deafened_listener_receives_no_audio() {
    let voice = node(0).await;
    let a = join(&voice, A, false).await;
    let mut b = join(&voice, B, false).await;
    let mut c = join(&voice, C, false).await;
    talk_until_heard(&a, &mut b, 0x01).await;
    talk_until_heard(&a, &mut c, 0x01).await;

    // C deafens itself; B still hears A while C hears nothing.
    voice
        .join(&session(C), GUILD, CHANNEL, false, true)
        .await
        .unwrap();
    talk_until_heard(&a, &mut b, 0x02).await;
    talk(&a, 0x02, 25).await;
    // B hearing a marker sent after them means the SFU has handled them
    // all while C was deafened.
    talk_until_heard(&a, &mut b, 0x04).await;
    voice
        .join(&session(C), GUILD, CHANNEL, false, false)
        .await
        .unwrap();
    talk_until_heard(&a, &mut c, 0x03).await;
    let mut events = std::mem::take(&mut c.seen);
    events.extend(c.drain());
    let deaf = audio_count(&events, a.user, 0x02) + audio_count(&events, a.user, 0x04);
    assert_eq!(deaf, 0, "a deafened listener got {deaf} packets");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_stops_the_tracks_and_tells_the_others() {
    let voice = node(0).await;
    let mut a = join(&voice, A, false).await;
    let mut b = join(&voice, B, false).await;
    talk_until_heard(&b, &mut a, 0x0B).await;
    // A third participant's arrival renegotiates A's connection; B's track
    // stays live through it.
    let c = join(&voice, C, false).await;
    talk_until_heard(&c, &mut a, 0x0C).await;
    talk_until_heard(&b, &mut a, 0x0D).await;
    assert!(
        !a.seen
            .iter()
            .any(|e| matches!(e, VoiceEvent::TrackEnded { .. })),
        "a track ended while its participant stayed"
    );

    voice.leave(GUILD, b.user).await;
    assert!(voice.voice_state(GUILD, b.user).await.unwrap().is_none());
    b.wait_for("close 4014", |e| {
        matches!(e, VoiceEvent::Closed { code: Some(4014) })
    })
    .await;
    // A learns both, in whichever order: B disconnected, B's track ended.
    let disconnected =
        |e: &VoiceEvent| matches!(e, VoiceEvent::ClientDisconnect(u) if u.get() == B);
    let ended = |e: &VoiceEvent| matches!(e, VoiceEvent::TrackEnded { user_id, kind: MediaKind::Audio } if user_id.get() == B);
    let (mut saw_disconnect, mut saw_end) = (false, false);
    a.wait_for("B disconnected and its track ended", |e| {
        saw_disconnect |= disconnected(e);
        saw_end |= ended(e);
        saw_disconnect && saw_end
    })
    .await;
    assert_eq!(voice.sfu().participant_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_is_forwarded_and_keyframe_requests_reach_the_publisher() {
    let voice = node(0).await;
    let mut a = join(&voice, A, true).await;
    let mut b = join(&voice, B, false).await;
    let from = a.user;
    // A sends "frames" until B sees video from A.
    let frames = async {
        for i in 0..500u32 {
            let payload = bytes::Bytes::from(vec![0x10, (i % 256) as u8, 0, 0]);
            a.conn.send_video(payload, true, 3000).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    let seen = tokio::select! {
        _ = frames => false,
        _ = b.wait_for("video from A", |e| {
            matches!(e, VoiceEvent::Rtp { user_id, kind: MediaKind::Video, .. } if *user_id == from)
        }) => true,
    };
    assert!(seen, "B never received A's video");

    // B lost a frame: it asks for a keyframe, the SFU relays it to A.
    b.conn.request_keyframe(from).await.unwrap();
    a.wait_for("keyframe request", |e| {
        matches!(e, VoiceEvent::KeyframeRequested)
    })
    .await;
    // A answers with a keyframe (tagged 0x30), which reaches B.
    let keyframes = async {
        for _ in 0..200 {
            a.conn
                .send_video(bytes::Bytes::from_static(&[0x30, 0x01, 0x02]), true, 3000)
                .await
                .unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    let recovered = tokio::select! {
        _ = keyframes => false,
        _ = b.wait_for("keyframe", |e| {
            matches!(e, VoiceEvent::Rtp { user_id, kind: MediaKind::Video, packet }
                if *user_id == from && packet.payload.first() == Some(&0x30))
        }) => true,
    };
    assert!(recovered, "the keyframe never reached B");
    assert!(
        voice
            .sfu()
            .stats()
            .keyframe_requests
            .load(Ordering::Relaxed)
            >= 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_channel_refuses_the_next_participant() {
    let voice = node(2).await;
    let _a = join(&voice, A, false).await;
    let _b = join(&voice, B, false).await;
    let refused = voice.join(&session(C), GUILD, CHANNEL, false, false).await;
    assert_eq!(refused, Err(discord_voice::JoinRefused::Full));
    assert!(
        voice
            .voice_state(GUILD, Snowflake::new(C))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_channels_ends_the_old_connection_and_grants_a_new_one() {
    let voice = node(0).await;
    let mut a = join(&voice, A, false).await;
    let update = voice
        .join(&session(A), GUILD, OTHER_CHANNEL, false, false)
        .await
        .unwrap()
        .expect("a move issues a new token");
    a.wait_for("close 4014", |e| {
        matches!(e, VoiceEvent::Closed { code: Some(4014) })
    })
    .await;
    assert_eq!(
        voice
            .voice_state(GUILD, a.user)
            .await
            .unwrap()
            .unwrap()
            .channel_id,
        Some(OTHER_CHANNEL)
    );
    let info = discord_client::voice::VoiceServerInfo {
        endpoint: update.endpoint.unwrap(),
        guild_id: GUILD,
        user_id: a.user,
        session_id: session(A).session_id,
        token: update.token,
    };
    let (conn, _events) = discord_client::voice::VoiceConnection::connect(info, Default::default())
        .await
        .expect("the new token works in the new channel");
    assert_eq!(conn.ready().channel_id, OTHER_CHANNEL);
    assert_eq!(voice.sfu().participant_count(), 1);
}

/// With RFC 6464 audio levels negotiated, speaking follows the levels,
/// not the frame sizes: loud-sized frames marked silent do not light the
/// indicator, tiny frames marked loud do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speaking_follows_audio_levels() {
    use discord_client::voice::AudioLevel;
    let voice = node(0).await;
    let a = join(&voice, A, false).await;
    let mut b = join(&voice, B, false).await;
    let silent = AudioLevel {
        voice: false,
        level: 127,
    };
    let loud = AudioLevel {
        voice: true,
        level: 20,
    };
    let send = |tag: u8, len: usize, level: AudioLevel, count: usize| {
        let conn = &a.conn;
        async move {
            for _ in 0..count {
                conn.send_audio_with_level(bytes::Bytes::from(vec![tag; len]), 960, level)
                    .await
                    .unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    };
    // Big frames marked silent reach B, and A is never shown speaking.
    let heard = tokio::select! {
        _ = send(0xC1, 40, silent, 500) => false,
        _ = b.wait_audio(a.user, 0xC1) => true,
    };
    assert!(heard, "B never heard A");
    send(0xC1, 40, silent, 10).await;
    let mut events = b.seen.clone();
    events.extend(b.drain());
    assert!(
        !events.iter().any(
            |e| matches!(e, VoiceEvent::Speaking { user_id, speaking: true } if *user_id == a.user)
        ),
        "frames marked silent lit the speaking indicator"
    );
    // Frames of two bytes (silence by size) marked loud light it.
    let lit = tokio::select! {
        _ = send(0xC2, 2, loud, 500) => false,
        _ = b.wait_for("A speaking", |e| {
            matches!(e, VoiceEvent::Speaking { user_id, speaking: true } if *user_id == a.user)
        }) => true,
    };
    assert!(
        lit,
        "frames marked loud did not light the speaking indicator"
    );
}
