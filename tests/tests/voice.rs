//! Voice end to end through the reference server: op 4 on the gateway,
//! VOICE_STATE_UPDATE and VOICE_SERVER_UPDATE, the voice signaling
//! WebSocket, WebRTC media through the SFU, server mute over REST, and
//! leaving.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::Rest;
use discord_client::gateway::{SessionConfig, Shard, ShardEvent};
use discord_client::voice::{
    MediaKind, VoiceConnection, VoiceEvent, VoiceOptions, VoiceServerInfo,
};
use discord_proto::Snowflake;
use discord_proto::gateway::{
    ClientCommand, DispatchEvent, GuildCreate, Intents, UpdateVoiceState, VoiceServerUpdate,
};
use discord_proto::model::VoiceState;
use serde_json::json;
use tokio::sync::mpsc;

/// A gateway session: its shard, user and session ID.
struct Member {
    shard: Shard,
    user_id: Snowflake,
    session_id: String,
    /// Guilds' voice states from GUILD_CREATE.
    voice_states: Vec<VoiceState>,
}

async fn next(shard: &mut Shard) -> DispatchEvent {
    match tokio::time::timeout(Duration::from_secs(15), shard.next_event())
        .await
        .expect("the gateway went quiet")
        .expect("the shard stopped")
    {
        ShardEvent::Dispatch { event, .. } => event,
        ShardEvent::Fatal(code) => panic!("fatal close {code}"),
    }
}

async fn connect(gateway_url: &str, token: String) -> Member {
    let mut shard = Shard::start(SessionConfig {
        token,
        intents: Intents::GUILDS | Intents::GUILD_VOICE_STATES,
        shard: None,
        gateway_url: gateway_url.to_owned(),
        compression: None,
    });
    let (user_id, session_id) = loop {
        if let DispatchEvent::Ready(r) = next(&mut shard).await {
            break (r.user.id, r.session_id.clone());
        }
    };
    let voice_states = loop {
        if let DispatchEvent::GuildCreate(GuildCreate::Available(g)) = next(&mut shard).await {
            break g.voice_states.clone();
        }
    };
    Member {
        shard,
        user_id,
        session_id,
        voice_states,
    }
}

impl Member {
    /// Waits for a VOICE_STATE_UPDATE about `user` matching `pred`.
    async fn voice_state(
        &mut self,
        user: Snowflake,
        pred: impl Fn(&VoiceState) -> bool,
    ) -> VoiceState {
        loop {
            if let DispatchEvent::VoiceStateUpdate(s) = next(&mut self.shard).await
                && s.user_id == user
                && pred(&s)
            {
                return *s;
            }
        }
    }

    async fn voice_server(&mut self) -> VoiceServerUpdate {
        loop {
            if let DispatchEvent::VoiceServerUpdate(v) = next(&mut self.shard).await {
                return v;
            }
        }
    }

    /// op 4 into `channel`, then the voice connection.
    async fn join_voice(
        &mut self,
        guild: Snowflake,
        channel: Snowflake,
    ) -> (VoiceConnection, mpsc::UnboundedReceiver<VoiceEvent>) {
        self.shard.send(ClientCommand::VoiceStateUpdate(Box::new(
            UpdateVoiceState {
                guild_id: guild,
                channel_id: Some(channel),
                self_mute: false,
                self_deaf: false,
            },
        )));
        let me = self.user_id;
        let state = self
            .voice_state(me, |s| s.channel_id == Some(channel))
            .await;
        assert_eq!(state.session_id, self.session_id);
        assert!(
            state.member.is_some(),
            "VOICE_STATE_UPDATE carries the member"
        );
        let server = self.voice_server().await;
        assert_eq!(server.guild_id, guild);
        VoiceConnection::connect(
            VoiceServerInfo {
                endpoint: server.endpoint.expect("an endpoint"),
                guild_id: guild,
                user_id: self.user_id,
                session_id: self.session_id.clone(),
                token: server.token,
            },
            VoiceOptions::default(),
        )
        .await
        .expect("voice connection")
    }
}

/// Waits up to 15 s for an event matching `pred`.
async fn wait(
    events: &mut mpsc::UnboundedReceiver<VoiceEvent>,
    what: &str,
    pred: impl Fn(&VoiceEvent) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(e)) if pred(&e) => return,
            Ok(Some(_)) => {}
            _ => panic!("no {what}"),
        }
    }
}

/// Sends tagged audio frames until `listener` hears one from `from`.
async fn heard(
    talker: &VoiceConnection,
    listener: &mut mpsc::UnboundedReceiver<VoiceEvent>,
    from: Snowflake,
    tag: u8,
) -> bool {
    let talk = async {
        for _ in 0..400 {
            talker
                .send_audio(bytes::Bytes::from(vec![tag; 40]), 960)
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::select! {
        _ = talk => false,
        _ = wait(listener, "audio", |e| matches!(e, VoiceEvent::Rtp { user_id, kind: MediaKind::Audio, packet }
            if *user_id == from && packet.payload.first() == Some(&tag))) => true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn op4_to_media_through_the_reference_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path()).await;
    let rest = Rest::new(server.url());
    let setup = rest.bot_setup("voice guild", "voicebot").await;
    let guild: Snowflake = Snowflake::new(setup.guild_id.parse().unwrap());
    let channels = rest
        .get(
            &format!("/guilds/{}/channels", setup.guild_id),
            &setup.alice,
        )
        .await;
    let voice_channel = channels
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == 2)
        .expect("a voice channel")["id"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .map(Snowflake::new)
        .unwrap();
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
    for _ in 0..25 {
        bot_voice
            .send_audio(bytes::Bytes::from(vec![0xB2; 40]), 960)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
    let talk = async {
        for _ in 0..400 {
            bot_voice
                .send_audio(bytes::Bytes::from(vec![0xB3; 40]), 960)
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
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
