//! The examples, built by `cargo test`, run against an in-process
//! reference server: the history exporter writes every message, and the
//! voice bot plays a tone that a listener decodes as 440 Hz.

#[path = "../../tests/tests/client_common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::time::Duration;

use discord_client::CreateMessage;
use discord_client::gateway::{SessionConfig, Shard, ShardEvent};
use discord_client::voice::{
    MediaKind, OpusDecoder, VoiceConnection, VoiceEvent, VoiceOptions, join_voice,
    zero_crossing_frequency,
};
use discord_proto::gateway::{DispatchEvent, Intents};
use discord_proto::model::ChannelType;

/// An example's binary, next to this test's (`target/<profile>/examples`).
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds the examples",
        path.display()
    );
    path
}

#[tokio::test]
async fn the_ping_bot_answers_ping_with_a_reply() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |_| {}).await;
    let api = format!("{}/api/v10", server.url());
    let (alice, guild, general) = common::setup(&api).await;
    let token = common::bot(&alice, guild, "pingbot").await;
    let mut bot = tokio::process::Command::new(example("ping_bot"))
        .args([server.url(), token])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // It prints "ready as ..." once READY arrives.
    let mut lines = tokio::io::BufReader::new(bot.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("the bot never became ready")
        .unwrap()
        .unwrap_or_default();
    assert!(line.starts_with("ready as"), "{line}");
    let ping = alice
        .create_message(general, &CreateMessage::text("!ping"))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let page = alice
            .messages(general, discord_client::MessagesQuery::After(ping.id, 10))
            .await
            .unwrap();
        if let Some(reply) = page.iter().find(|m| m.content == "pong") {
            assert!(reply.author.bot);
            let to = reply.message_reference.as_ref().and_then(|r| r.message_id);
            assert_eq!(to, Some(ping.id), "the pong replies to the ping");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no pong");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_history_exporter_writes_every_message() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |_| {}).await;
    let api = format!("{}/api/v10", server.url());
    let (alice, guild, general) = common::setup(&api).await;
    let token = common::bot(&alice, guild, "exporter").await;
    for text in ["one", "two", "three"] {
        alice
            .create_message(general, &CreateMessage::text(text))
            .await
            .unwrap();
    }
    let out = tokio::process::Command::new(example("history_exporter"))
        .args([server.url(), token, general.to_string()])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let texts: Vec<&str> = lines
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["three", "two", "one"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_voice_bot_plays_a_tone_a_listener_hears_as_440_hz() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |_| {}).await;
    let api = format!("{}/api/v10", server.url());
    let (alice, guild, _) = common::setup(&api).await;
    let token = common::bot(&alice, guild, "tonebot").await;
    let voice_channel = alice
        .guild_channels(guild)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.kind == ChannelType::GuildVoice)
        .unwrap()
        .id;

    // Alice listens in the voice channel.
    let mut shard = Shard::start(SessionConfig {
        token: alice.authorization().unwrap().to_owned(),
        intents: Intents::GUILDS | Intents::GUILD_VOICE_STATES,
        shard: None,
        gateway_url: alice.gateway().await.unwrap().url,
        compression: None,
    });
    let (me, session) = loop {
        if let Some(ShardEvent::Dispatch {
            event: DispatchEvent::Ready(r),
            ..
        }) = shard.next_event().await
        {
            break (r.user.id, r.session_id.clone());
        }
    };
    let (info, _) = join_voice(&mut shard, me, &session, guild, voice_channel)
        .await
        .unwrap();
    let (_listener, mut events) = VoiceConnection::connect(info, VoiceOptions::default())
        .await
        .unwrap();

    let mut bot = tokio::process::Command::new(example("voice_tone_bot"))
        .args([
            server.url(),
            token,
            guild.to_string(),
            voice_channel.to_string(),
            "6".into(),
        ])
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    // Decode what arrives from the bot until 2 s of audio are in.
    let mut decoder = OpusDecoder::new().unwrap();
    let mut pcm = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while pcm.len() < 48_000 * 2 * 2 {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("not enough audio from the bot")
            .expect("voice events ended");
        if let VoiceEvent::Rtp {
            user_id,
            kind: MediaKind::Audio,
            packet,
        } = event
            && user_id != me
        {
            pcm.extend(decoder.decode(&packet.payload).unwrap());
        }
    }
    // The first half second is the codec settling.
    let f = zero_crossing_frequency(&pcm[48_000..], 2);
    assert!((420.0..460.0).contains(&f), "heard {f} Hz");
    let status = tokio::time::timeout(Duration::from_secs(20), bot.wait())
        .await
        .expect("the bot did not finish")
        .unwrap();
    assert!(status.success());
}
