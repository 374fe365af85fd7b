//! A voice node on a loopback port, and clients for it.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use discord_client::voice::{
    MediaKind, VoiceConnection, VoiceEvent, VoiceOptions, VoiceServerInfo,
};
use discord_gateway::VoiceSession;
use discord_proto::Snowflake;
use discord_voice::{ChannelAccess, Denied, Voice, VoiceAccess, VoiceConfig};
use tokio::sync::mpsc;

pub const GUILD: Snowflake = Snowflake::new(1_000);
pub const CHANNEL: Snowflake = Snowflake::new(2_000);
pub const OTHER_CHANNEL: Snowflake = Snowflake::new(2_001);

/// Everyone may join and speak; the channel holds `user_limit`.
pub struct Open {
    pub user_limit: u32,
    pub can_speak: bool,
}

#[async_trait]
impl VoiceAccess for Open {
    async fn check(
        &self,
        guild_id: Snowflake,
        channel_id: Snowflake,
        _user_id: Snowflake,
    ) -> Result<ChannelAccess, Denied> {
        if guild_id != GUILD || (channel_id != CHANNEL && channel_id != OTHER_CHANNEL) {
            return Err(Denied::NotFound);
        }
        Ok(ChannelAccess {
            member: None,
            user_limit: self.user_limit,
            can_speak: self.can_speak,
            mute: false,
            deaf: false,
            rtc_region: None,
        })
    }
}

/// A voice node serving signaling on a loopback port.
pub async fn node(user_limit: u32) -> Voice {
    node_with(user_limit, |_| {}).await
}

/// A voice node with settings changed by `tune`.
pub async fn node_with(user_limit: u32, tune: impl FnOnce(&mut VoiceConfig)) -> Voice {
    node_full(user_limit, true, tune).await
}

/// A voice node whose members have SPEAK only if `can_speak`.
pub async fn node_full(
    user_limit: u32,
    can_speak: bool,
    tune: impl FnOnce(&mut VoiceConfig),
) -> Voice {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = VoiceConfig::new(format!("ws://{addr}/voice"));
    tune(&mut config);
    let voice = Voice::new(
        config,
        Arc::new(Open {
            user_limit,
            can_speak,
        }),
    );
    let app = voice.router::<()>("/voice");
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    voice
}

pub fn session(user: u64) -> VoiceSession {
    VoiceSession {
        session_id: format!("session-{user}"),
        user_id: Snowflake::new(user),
    }
}

/// The token and endpoint op 4 would produce for `user`.
pub async fn grant(voice: &Voice, user: u64) -> VoiceServerInfo {
    grant_in(voice, user, CHANNEL).await
}

/// The token and endpoint op 4 for `user` joining `channel`, handled by
/// `voice` (the node of the user's gateway session), would produce.
pub async fn grant_in(voice: &Voice, user: u64, channel: Snowflake) -> VoiceServerInfo {
    let update = voice
        .join(&session(user), GUILD, channel, false, false)
        .await
        .expect("join allowed")
        .expect("a token");
    VoiceServerInfo {
        endpoint: update.endpoint.unwrap(),
        guild_id: GUILD,
        user_id: Snowflake::new(user),
        session_id: session(user).session_id,
        token: update.token,
    }
}

pub struct Client {
    pub user: Snowflake,
    pub conn: VoiceConnection,
    pub events: mpsc::UnboundedReceiver<VoiceEvent>,
    /// Every event `wait_for` has read, in order.
    pub seen: Vec<VoiceEvent>,
}

pub async fn join(voice: &Voice, user: u64, video: bool) -> Client {
    let info = grant(voice, user).await;
    let (conn, events) = VoiceConnection::connect(
        info,
        VoiceOptions {
            video,
            ..VoiceOptions::default()
        },
    )
    .await
    .expect("voice connect");
    Client {
        user: Snowflake::new(user),
        conn,
        events,
        seen: Vec::new(),
    }
}

impl Client {
    /// Waits for an event matching `pred`, up to 15 s.
    pub async fn wait_for(
        &mut self,
        what: &str,
        mut pred: impl FnMut(&VoiceEvent) -> bool,
    ) -> VoiceEvent {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(e)) => {
                    self.seen.push(e.clone());
                    if pred(&e) {
                        return e;
                    }
                }
                Ok(None) => panic!("{}: events ended waiting for {what}", self.user),
                Err(_) => panic!("{}: timed out waiting for {what}", self.user),
            }
        }
    }

    /// Waits for an audio packet from `from` whose payload starts with `tag`.
    pub async fn wait_audio(&mut self, from: Snowflake, tag: u8) -> VoiceEvent {
        self.wait_for(&format!("audio {tag} from {from}"), |e| {
            matches!(e, VoiceEvent::Rtp { user_id, kind: MediaKind::Audio, packet }
                if *user_id == from && packet.payload.first() == Some(&tag))
        })
        .await
    }

    /// Every event queued now.
    pub fn drain(&mut self) -> Vec<VoiceEvent> {
        let mut out = Vec::new();
        while let Ok(e) = self.events.try_recv() {
            out.push(e);
        }
        out
    }
}

/// Sends `count` 20 ms audio frames tagged `tag`, 20 ms apart.
pub async fn talk(client: &Client, tag: u8, count: usize) {
    for _ in 0..count {
        client
            .conn
            .send_audio(bytes::Bytes::from(vec![tag; 40]), 960)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Audio packets from `from` tagged `tag` among `events`.
pub fn audio_count(events: &[VoiceEvent], from: Snowflake, tag: u8) -> usize {
    events
        .iter()
        .filter(|e| {
            matches!(e, VoiceEvent::Rtp { user_id, kind: MediaKind::Audio, packet }
            if *user_id == from && packet.payload.first() == Some(&tag))
        })
        .count()
}

/// Polls `done` every 10 ms for up to 15 s.
pub async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Keeps `talker` sending frames tagged `tag` until `listener` hears one.
pub async fn talk_until_heard(talker: &Client, listener: &mut Client, tag: u8) {
    let from = talker.user;
    let heard = tokio::select! {
        _ = talk(talker, tag, 500) => false,
        _ = listener.wait_audio(from, tag) => true,
    };
    assert!(heard, "{} never heard {from} ({tag:#x})", listener.user);
}
