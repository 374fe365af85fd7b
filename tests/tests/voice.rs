//! Voice end to end through the reference server: op 4 on the gateway,
//! VOICE_STATE_UPDATE and VOICE_SERVER_UPDATE, the voice signaling
//! WebSocket, WebRTC media through the SFU, server mute over REST, and
//! leaving.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::Rest;
use common::voice::{connect, heard, talk, voice_channel, wait};
use discord_client::voice::VoiceEvent;
use discord_proto::Snowflake;
use discord_proto::gateway::{ClientCommand, UpdateVoiceState};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn op4_to_media_through_the_reference_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path()).await;
    let rest = Rest::new(server.url());
    let setup = rest.bot_setup("voice guild", "voicebot").await;
    let guild: Snowflake = Snowflake::new(setup.guild_id.parse().unwrap());
    let voice_channel = voice_channel(&rest, &setup.guild_id, &setup.alice).await;
    let gateway_url = rest.get("/gateway", &setup.alice).await["url"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut alice = connect(&gateway_url, setup.alice.clone()).await;
    let mut bot = connect(&gateway_url, format!("Bot {}", setup.bot_token)).await;
    assert!(alice.voice_states.is_empty());

    let (alice_voice, mut alice_events) = alice.join_voice(guild, voice_channel).await;
    // The bot saw alice join.
    let seen = bot
        .voice_state(alice.user_id, |s| s.channel_id == Some(voice_channel))
        .await;
    assert_eq!(seen.guild_id, Some(guild));
    let (bot_voice, mut bot_events) = bot.join_voice(guild, voice_channel).await;

    // Media: alice speaks, the bot hears; the bot speaks, alice hears.
    assert!(heard(&alice_voice, &mut bot_events, alice.user_id, 0xA1).await);
    assert!(heard(&bot_voice, &mut alice_events, bot.user_id, 0xB1).await);

    // A new session sees both in GUILD_CREATE's voice states.
    let late = connect(&gateway_url, setup.alice.clone()).await;
    let mut in_voice: Vec<Snowflake> = late.voice_states.iter().map(|s| s.user_id).collect();
    in_voice.sort();
    let mut expected = vec![alice.user_id, bot.user_id];
    expected.sort();
    assert_eq!(in_voice, expected);

    // Alice (the owner) server-mutes the bot over REST: everyone is told,
    // and the SFU drops its audio.
    let r = rest
        .call(
            reqwest::Method::PATCH,
            &format!("/guilds/{}/members/{}", setup.guild_id, setup.bot_id),
            Some(&setup.alice),
            json!({"mute": true}),
        )
        .await;
    assert_eq!(r["mute"], true);
    let muted = alice.voice_state(bot.user_id, |s| s.mute).await;
    assert_eq!(muted.channel_id, Some(voice_channel));
    let stats = server.state.voice.sfu().stats();
    let dropped_before = stats.dropped_muted.load(Ordering::Relaxed);
    talk(&bot_voice, 0xB2, 25).await;
    // All 25 reached the SFU and were dropped before the unmute.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while stats.dropped_muted.load(Ordering::Relaxed) < dropped_before + 25 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "muted packets never reached the SFU"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    rest.call(
        reqwest::Method::PATCH,
        &format!("/guilds/{}/members/{}", setup.guild_id, setup.bot_id),
        Some(&setup.alice),
        json!({"mute": false}),
    )
    .await;
    alice.voice_state(bot.user_id, |s| !s.mute).await;
    let mut after_unmute = Vec::new();
    let talk = talk(&bot_voice, 0xB3, 400);
    let collect = async {
        loop {
            let Some(e) = alice_events.recv().await else {
                break;
            };
            let tag = match &e {
                VoiceEvent::Rtp {
                    user_id, packet, ..
                } if *user_id == bot.user_id => packet.payload.first().copied(),
                _ => None,
            };
            after_unmute.push(tag);
            if tag == Some(0xB3) {
                break;
            }
        }
    };
    tokio::select! { _ = talk => panic!("alice never heard the unmuted bot"), _ = collect => {} }
    assert!(
        !after_unmute.contains(&Some(0xB2)),
        "audio sent while server-muted reached alice"
    );

    // Alice leaves with op 4 `channel_id: null`: the bot sees her voice
    // state cleared and her media leave.
    alice.shard.send(ClientCommand::VoiceStateUpdate(Box::new(
        UpdateVoiceState {
            guild_id: guild,
            channel_id: None,
            self_mute: false,
            self_deaf: false,
        },
    )));
    let left = bot
        .voice_state(alice.user_id, |s| s.channel_id.is_none())
        .await;
    assert_eq!(left.guild_id, Some(guild));
    wait(
        &mut bot_events,
        "alice's disconnect",
        |e| matches!(e, VoiceEvent::ClientDisconnect(u) if *u == alice.user_id),
    )
    .await;
    wait(&mut alice_events, "close 4014", |e| {
        matches!(e, VoiceEvent::Closed { code: Some(4014) })
    })
    .await;
    assert_eq!(server.state.voice.sfu().participant_count(), 1);
    drop(late);
}
