//! [`Voice`]: the voice layer a server runs. It implements the gateway's
//! [`VoiceHook`] (op 4 VOICE_STATE_UPDATE), keeps voice states, hands out
//! tokens in VOICE_SERVER_UPDATE, and owns the SFU its signaling
//! WebSocket feeds.

use std::sync::{Arc, OnceLock, Weak};

use async_trait::async_trait;
use bytes::Bytes;
use discord_gateway::{Event, Gateway, VoiceHook, VoiceSession};
use discord_proto::Snowflake;
use discord_proto::gateway::{DispatchEvent, UpdateVoiceState, VoiceServerUpdate};
use discord_proto::model::VoiceState;
use discord_store::backend::memory::MemoryVoiceStates;
use discord_store::{PubSub, StoreError, Topic, VoiceJoin, VoiceStateStore};
use serde::{Deserialize, Serialize};

use crate::access::{ChannelAccess, Denied, VoiceAccess};
use crate::config::VoiceConfig;
use crate::nodes::{VoiceNode, pick};
use crate::sfu::{Flags, Sfu};
use crate::token::Grant;

/// Why a join through op 4 was refused (the gateway has no error event
/// for it; the session simply gets no VOICE_SERVER_UPDATE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoinRefused {
    /// See [`Denied`].
    Denied(Denied),
    /// The channel's user limit or the node's capacity is reached.
    Full,
    /// The voice state store could not be reached.
    Unavailable,
}

/// How a voice state changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    /// The user joined a channel (or moved from `from`, or joined again
    /// from another gateway session).
    Joined { from: Option<Snowflake> },
    /// Only flags (mute, deafen) changed.
    Flags,
    /// Nothing changed.
    None,
}

impl Change {
    fn between(previous: Option<&VoiceState>, state: &VoiceState) -> Change {
        match previous {
            None => Change::Joined { from: None },
            Some(p) if p.channel_id != state.channel_id || p.session_id != state.session_id => {
                Change::Joined { from: p.channel_id }
            }
            Some(p) if p == state => Change::None,
            Some(_) => Change::Flags,
        }
    }
}

/// What one node asks the others' SFUs to do, over pub/sub: the node that
/// handles a change (op 4 arrives wherever the user's gateway session is)
/// is not always the node the channel's media lives on. Every node hears
/// every message and applies it to the participants it has.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Control {
    Flags {
        from: String,
        channel_id: Snowflake,
        user_id: Snowflake,
        muted: bool,
        deafened: bool,
    },
    Kick {
        from: String,
        channel_id: Snowflake,
        user_id: Snowflake,
    },
}

/// The pub/sub topic voice control messages travel on.
fn control_topic() -> Topic {
    Topic::Node("voice/control".into())
}

/// The voice layer of a server. Cheap to clone.
#[derive(Clone)]
pub struct Voice {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: VoiceConfig,
    nodes: Vec<VoiceNode>,
    states: Arc<dyn VoiceStateStore>,
    pubsub: Option<Arc<dyn PubSub>>,
    pub(crate) sfu: Sfu,
    access: Arc<dyn VoiceAccess>,
    gateway: OnceLock<Gateway>,
}

impl std::fmt::Debug for Voice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Voice")
            .field("node_id", &self.inner.config.node_id)
            .field("nodes", &self.inner.nodes)
            .finish_non_exhaustive()
    }
}

impl Voice {
    /// A voice layer on one node, with voice states in memory, answering
    /// permission questions with `access`.
    pub fn new(config: VoiceConfig, access: Arc<dyn VoiceAccess>) -> Voice {
        Voice::build(config, access, Arc::new(MemoryVoiceStates::new()), None)
    }

    /// A voice layer that is one of several SFU nodes
    /// ([`VoiceConfig::nodes`]): voice states live in `states`, shared by
    /// every node, and mute, deafen and disconnect reach the node a
    /// channel lives on through `pubsub`. Every node needs the same
    /// [`VoiceConfig::token_key`] and node list.
    pub async fn with_stores(
        config: VoiceConfig,
        access: Arc<dyn VoiceAccess>,
        states: Arc<dyn VoiceStateStore>,
        pubsub: Arc<dyn PubSub>,
    ) -> Result<Voice, StoreError> {
        let mut subscriber = pubsub.subscriber().await?;
        subscriber.subscribe(&control_topic()).await?;
        let voice = Voice::build(config, access, states, Some(pubsub));
        let weak = Arc::downgrade(&voice.inner);
        tokio::spawn(async move {
            while let Some((_, payload)) = subscriber.next().await {
                let Some(inner) = Weak::upgrade(&weak) else {
                    break;
                };
                match serde_json::from_slice::<Control>(&payload) {
                    Ok(control) => Voice { inner }.apply(control).await,
                    Err(e) => tracing::warn!("bad voice control message: {e}"),
                }
            }
        });
        Ok(voice)
    }

    fn build(
        config: VoiceConfig,
        access: Arc<dyn VoiceAccess>,
        states: Arc<dyn VoiceStateStore>,
        pubsub: Option<Arc<dyn PubSub>>,
    ) -> Voice {
        Voice {
            inner: Arc::new(Inner {
                sfu: Sfu::new(config.clone()),
                nodes: config.node_list(),
                config,
                states,
                pubsub,
                access,
                gateway: OnceLock::new(),
            }),
        }
    }

    /// Connects the voice layer to the gateway it publishes
    /// VOICE_STATE_UPDATE and VOICE_SERVER_UPDATE through. The gateway is
    /// started with [`Voice::hook`], so this comes after.
    pub fn attach(&self, gateway: Gateway) {
        let _ = self.inner.gateway.set(gateway);
    }

    /// The gateway hook to pass to `Gateway::start`.
    pub fn hook(&self) -> Arc<dyn VoiceHook> {
        Arc::new(self.clone())
    }

    /// The SFU (participant counts, forwarding statistics).
    pub fn sfu(&self) -> &Sfu {
        &self.inner.sfu
    }

    /// The SFU node a channel lives on (`rtc_region`: the channel's).
    pub fn node_for(&self, channel_id: Snowflake, rtc_region: Option<&str>) -> &VoiceNode {
        pick(&self.inner.nodes, channel_id, rtc_region).expect("the node list is never empty")
    }

    /// The voice states in a guild, for GUILD_CREATE.
    pub async fn voice_states(&self, guild_id: Snowflake) -> Result<Vec<VoiceState>, StoreError> {
        let mut states = self.inner.states.guild(guild_id).await?;
        for s in &mut states {
            s.guild_id = None;
        }
        Ok(states)
    }

    /// One user's voice state in a guild.
    pub async fn voice_state(
        &self,
        guild_id: Snowflake,
        user_id: Snowflake,
    ) -> Result<Option<VoiceState>, StoreError> {
        self.inner.states.get(guild_id, user_id).await
    }

    async fn publish(&self, event: Result<Event, serde_json::Error>) {
        let Some(gateway) = self.inner.gateway.get() else {
            tracing::debug!("no gateway attached; voice event not published");
            return;
        };
        match event {
            Ok(event) => {
                if let Err(e) = gateway.publish(&event).await {
                    tracing::warn!("publishing a voice event failed: {e}");
                }
            }
            Err(e) => tracing::error!("encoding a voice event failed: {e}"),
        }
    }

    async fn publish_state(&self, guild_id: Snowflake, state: VoiceState) {
        let mut state = state;
        state.guild_id = Some(guild_id);
        self.publish(Event::new(&DispatchEvent::VoiceStateUpdate(Box::new(
            state,
        ))))
        .await;
    }

    /// Tells every other node's SFU (this one's is done directly).
    async fn broadcast(&self, control: &Control) {
        let Some(pubsub) = &self.inner.pubsub else {
            return;
        };
        match serde_json::to_vec(control) {
            Ok(bytes) => {
                if let Err(e) = pubsub.publish(&control_topic(), Bytes::from(bytes)).await {
                    tracing::warn!("voice control message not sent: {e}");
                }
            }
            Err(e) => tracing::error!("encoding a voice control message failed: {e}"),
        }
    }

    /// Applies another node's control message to this node's SFU.
    async fn apply(&self, control: Control) {
        match control {
            Control::Flags {
                from,
                channel_id,
                user_id,
                muted,
                deafened,
            } if from != self.inner.config.node_id => {
                self.inner
                    .sfu
                    .set_flags(channel_id, user_id, Flags { muted, deafened });
            }
            Control::Kick {
                from,
                channel_id,
                user_id,
            } if from != self.inner.config.node_id => {
                self.inner.sfu.kick(channel_id, user_id).await;
            }
            _ => {}
        }
    }

    /// Sets a participant's flags wherever its media is.
    async fn set_flags(&self, channel_id: Snowflake, user_id: Snowflake, flags: Flags) {
        self.inner.sfu.set_flags(channel_id, user_id, flags);
        self.broadcast(&Control::Flags {
            from: self.inner.config.node_id.clone(),
            channel_id,
            user_id,
            muted: flags.muted,
            deafened: flags.deafened,
        })
        .await;
    }

    /// Ends a participant's media wherever it is.
    async fn kick(&self, channel_id: Snowflake, user_id: Snowflake) {
        self.inner.sfu.kick(channel_id, user_id).await;
        self.broadcast(&Control::Kick {
            from: self.inner.config.node_id.clone(),
            channel_id,
            user_id,
        })
        .await;
    }

    /// Joins, moves or updates flags for a session's user, and tells the
    /// guild (VOICE_STATE_UPDATE). A join, a move, or a repeat of the same
    /// state issues a token: the VOICE_SERVER_UPDATE sent to the user,
    /// with the endpoint of the node the channel lives on, is returned
    /// too. Returns why it was refused, if it was.
    pub async fn join(
        &self,
        session: &VoiceSession,
        guild_id: Snowflake,
        channel_id: Snowflake,
        self_mute: bool,
        self_deaf: bool,
    ) -> Result<Option<VoiceServerUpdate>, JoinRefused> {
        let user_id = session.user_id;
        let access = self
            .inner
            .access
            .check(guild_id, channel_id, user_id)
            .await
            .map_err(JoinRefused::Denied)?;
        let limit = match access.user_limit {
            0 => self.inner.config.max_per_channel,
            n => (n as usize).min(self.inner.config.max_per_channel),
        };
        let state = VoiceState {
            guild_id: Some(guild_id),
            channel_id: Some(channel_id),
            user_id,
            member: access.member.clone(),
            session_id: session.session_id.clone(),
            deaf: access.deaf,
            mute: access.mute,
            self_deaf,
            self_mute,
            self_stream: None,
            self_video: false,
            suppress: false,
            request_to_speak_timestamp: None,
        };
        let previous = match self.inner.states.join(guild_id, &state, limit).await {
            Ok(VoiceJoin::Joined { previous }) => previous,
            Ok(VoiceJoin::Full) => return Err(JoinRefused::Full),
            Err(e) => {
                tracing::warn!("voice states unavailable: {e}");
                return Err(JoinRefused::Unavailable);
            }
        };
        let change = Change::between(previous.as_deref(), &state);
        match change {
            Change::Joined { from } => {
                if let Some(from) = from {
                    self.kick(from, user_id).await;
                }
                self.publish_state(guild_id, state).await;
            }
            Change::Flags => {
                self.set_flags(channel_id, user_id, Flags::of(&state)).await;
                self.publish_state(guild_id, state).await;
                return Ok(None);
            }
            Change::None => {}
        }
        let grant = Grant::new(
            guild_id,
            channel_id,
            user_id,
            session.session_id.clone(),
            self.inner.config.token_ttl,
        );
        let node = self.node_for(channel_id, access.rtc_region.as_deref());
        let update = VoiceServerUpdate {
            token: self.inner.config.token_key.sign(&grant),
            guild_id,
            endpoint: Some(node.endpoint.clone()),
        };
        let event = DispatchEvent::VoiceServerUpdate(update.clone());
        self.publish(Event::new(&event).map(|e| e.to_users([user_id])))
            .await;
        Ok(Some(update))
    }

    /// Takes a user out of voice in a guild (they left, their session
    /// ended, or a moderator disconnected them).
    pub async fn leave(&self, guild_id: Snowflake, user_id: Snowflake) {
        let state = match self.inner.states.leave(guild_id, user_id).await {
            Ok(Some(state)) => state,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!("voice states unavailable; {user_id} not taken out of voice: {e}");
                return;
            }
        };
        let mut left = state.clone();
        left.channel_id = None;
        if let Some(from) = state.channel_id {
            self.kick(from, user_id).await;
        }
        self.publish_state(guild_id, left).await;
    }

    /// Sets server mute and deafen (a member update by someone with
    /// MUTE_MEMBERS / DEAFEN_MEMBERS). Applies at once if the user is in
    /// voice, and tells the guild.
    pub async fn set_server_flags(
        &self,
        guild_id: Snowflake,
        user_id: Snowflake,
        mute: Option<bool>,
        deaf: Option<bool>,
    ) {
        // Compare and set: a concurrent op 4 from the user wins the race
        // and this one is applied on top of it.
        for _ in 0..8 {
            let current = match self.inner.states.get(guild_id, user_id).await {
                Ok(Some(state)) => state,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!("voice states unavailable; server flags not applied: {e}");
                    return;
                }
            };
            let mut state = current.clone();
            state.mute = mute.unwrap_or(state.mute);
            state.deaf = deaf.unwrap_or(state.deaf);
            if state == current {
                return;
            }
            match self.inner.states.replace(guild_id, &current, &state).await {
                Ok(true) => {
                    if let Some(channel_id) = state.channel_id {
                        self.set_flags(channel_id, user_id, Flags::of(&state)).await;
                    }
                    self.publish_state(guild_id, state).await;
                    return;
                }
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!("voice states unavailable; server flags not applied: {e}");
                    return;
                }
            }
        }
        tracing::warn!(%user_id, "server flags not applied: the voice state kept changing");
    }

    /// The grant behind a token IDENTIFY presents, with the user's voice
    /// state: the token must be signed with this cluster's key, unexpired,
    /// and the user still in the grant's channel from the grant's session.
    pub(crate) async fn grant(&self, token: &str) -> Option<(Grant, VoiceState)> {
        let grant = self.verify(token).filter(|g| !g.expired())?;
        let state = self
            .inner
            .states
            .get(grant.guild_id, grant.user_id)
            .await
            .ok()
            .flatten()?;
        (state.channel_id == Some(grant.channel_id) && state.session_id == grant.session_id)
            .then_some((grant, state))
    }

    /// The grant a token carries, expired or not (RESUME: the participant
    /// it started must still be here).
    pub(crate) fn verify(&self, token: &str) -> Option<Grant> {
        self.inner.config.token_key.verify(token)
    }

    /// Whether this node is where `channel_id` lives.
    pub(crate) fn hosts(&self, channel_id: Snowflake, access: &ChannelAccess) -> bool {
        self.node_for(channel_id, access.rtc_region.as_deref()).id == self.inner.config.node_id
    }

    /// The flags a user's voice state gives now (a participant that just
    /// joined re-reads them, so a change made meanwhile is not lost).
    pub(crate) async fn current_flags(
        &self,
        guild_id: Snowflake,
        user_id: Snowflake,
    ) -> Option<Flags> {
        let state = self.inner.states.get(guild_id, user_id).await.ok()??;
        Some(Flags::of(&state))
    }

    /// Re-checks CONNECT/SPEAK for a joining participant.
    pub(crate) async fn access(&self, grant: &Grant) -> Result<ChannelAccess, Denied> {
        self.inner
            .access
            .check(grant.guild_id, grant.channel_id, grant.user_id)
            .await
    }
}

#[async_trait]
impl VoiceHook for Voice {
    async fn voice_state_update(&self, session: &VoiceSession, update: UpdateVoiceState) {
        match update.channel_id {
            None => self.leave(update.guild_id, session.user_id).await,
            Some(channel_id) => {
                if let Err(why) = self
                    .join(
                        session,
                        update.guild_id,
                        channel_id,
                        update.self_mute,
                        update.self_deaf,
                    )
                    .await
                {
                    tracing::info!(user = %session.user_id, %channel_id, ?why, "voice join refused");
                }
            }
        }
    }

    async fn session_ended(&self, session: &VoiceSession) {
        let guilds = match self.inner.states.of_session(&session.session_id).await {
            Ok(g) => g,
            Err(e) => {
                tracing::warn!("voice states unavailable; ended session left in voice: {e}");
                return;
            }
        };
        for (guild_id, user_id) in guilds {
            self.leave(guild_id, user_id).await;
        }
    }
}
