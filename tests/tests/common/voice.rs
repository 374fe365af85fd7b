//! Gateway sessions that join voice, and audio checks, for the voice
//! end-to-end tests.

use std::time::Duration;

use discord_client::gateway::{SessionConfig, Shard, ShardEvent};
use discord_client::voice::{
    MediaKind, VoiceConnection, VoiceEvent, VoiceOptions, VoiceServerInfo,
};
use discord_proto::Snowflake;
use discord_proto::gateway::{
    ClientCommand, DispatchEvent, GuildCreate, Intents, UpdateVoiceState, VoiceServerUpdate,
};
use discord_proto::model::VoiceState;
use tokio::sync::mpsc;

/// A gateway session: its shard, user and session ID.
pub struct Member {
    pub shard: Shard,
    pub user_id: Snowflake,
    pub session_id: String,
    /// Guilds' voice states from GUILD_CREATE.
    pub voice_states: Vec<VoiceState>,
    /// The endpoint of the last VOICE_SERVER_UPDATE.
    pub voice_endpoint: Option<String>,
}

pub async fn next(shard: &mut Shard) -> DispatchEvent {
    match tokio::time::timeout(Duration::from_secs(15), shard.next_event())
        .await
        .expect("the gateway went quiet")
        .expect("the shard stopped")
    {
        ShardEvent::Dispatch { event, .. } => event,
        ShardEvent::Fatal(code) => panic!("fatal close {code}"),
    }
}

pub async fn connect(gateway_url: &str, token: String) -> Member {
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
        voice_endpoint: None,
    }
}

impl Member {
    /// Waits for a VOICE_STATE_UPDATE about `user` matching `pred`.
    pub async fn voice_state(
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

    pub async fn voice_server(&mut self) -> VoiceServerUpdate {
        loop {
            if let DispatchEvent::VoiceServerUpdate(v) = next(&mut self.shard).await {
                return v;
            }
        }
    }

    /// op 4 into `channel`, then the voice connection.
    pub async fn join_voice(
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
        self.voice_endpoint.clone_from(&server.endpoint);
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
pub async fn wait(
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
pub async fn heard(
    talker: &VoiceConnection,
    listener: &mut mpsc::UnboundedReceiver<VoiceEvent>,
    from: Snowflake,
    tag: u8,
) -> bool {
    let talk = talk(talker, tag, 400);
    tokio::select! {
        _ = talk => false,
        _ = wait(listener, "audio", |e| matches!(e, VoiceEvent::Rtp { user_id, kind: MediaKind::Audio, packet }
            if *user_id == from && packet.payload.first() == Some(&tag))) => true,
    }
}

/// The first voice channel of a guild, as `token` lists them.
pub async fn voice_channel(rest: &super::Rest, guild_id: &str, token: &str) -> Snowflake {
    let channels = rest
        .get(&format!("/guilds/{guild_id}/channels"), token)
        .await;
    channels
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == 2)
        .expect("a voice channel")["id"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .map(Snowflake::new)
        .unwrap()
}

/// Sends `count` tagged audio frames, 20 ms apart.
pub async fn talk(conn: &VoiceConnection, tag: u8, count: usize) {
    for _ in 0..count {
        conn.send_audio(bytes::Bytes::from(vec![tag; 40]), 960)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
