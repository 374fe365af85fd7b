//! [`Voice`]: the voice layer a server runs. It implements the gateway's
//! [`VoiceHook`] (op 4 VOICE_STATE_UPDATE), keeps voice states, hands out
//! tokens in VOICE_SERVER_UPDATE, and owns the SFU its signaling
//! WebSocket feeds.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use async_trait::async_trait;
use discord_gateway::{Event, Gateway, VoiceHook, VoiceSession};
use discord_proto::Snowflake;
use discord_proto::gateway::{DispatchEvent, UpdateVoiceState, VoiceServerUpdate};
use discord_proto::model::VoiceState;

use crate::access::{Denied, VoiceAccess};
use crate::config::VoiceConfig;
use crate::registry::{Change, Grant, Registry};
use crate::sfu::{Flags, Sfu};

/// Why a join through op 4 was refused (the gateway has no error event
/// for it; the session simply gets no VOICE_SERVER_UPDATE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoinRefused {
    /// See [`Denied`].
    Denied(Denied),
    /// The channel's user limit or the node's capacity is reached.
    Full,
}

/// The voice layer of a server. Cheap to clone.
#[derive(Clone)]
pub struct Voice {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: VoiceConfig,
    pub(crate) registry: Mutex<Registry>,
    pub(crate) sfu: Sfu,
    access: Arc<dyn VoiceAccess>,
    gateway: OnceLock<Gateway>,
}

impl std::fmt::Debug for Voice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Voice")
            .field("endpoint", &self.inner.config.endpoint)
            .finish_non_exhaustive()
    }
}

impl Voice {
    /// A voice layer answering permission questions with `access`.
    pub fn new(config: VoiceConfig, access: Arc<dyn VoiceAccess>) -> Voice {
        Voice {
            inner: Arc::new(Inner {
                sfu: Sfu::new(config.clone()),
                config,
                registry: Mutex::new(Registry::new()),
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

    /// The voice states in a guild, for GUILD_CREATE.
    pub fn voice_states(&self, guild_id: Snowflake) -> Vec<VoiceState> {
        let mut states = self.registry().guild_states(guild_id);
        for s in &mut states {
            s.guild_id = None;
        }
        states
    }

    /// One user's voice state in a guild.
    pub fn voice_state(&self, guild_id: Snowflake, user_id: Snowflake) -> Option<VoiceState> {
        self.registry().state(guild_id, user_id).cloned()
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.inner.registry.lock().expect("voice registry lock")
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

    /// Joins, moves or updates flags for a session's user, and tells the
    /// guild (VOICE_STATE_UPDATE). A join, a move, or a repeat of the same
    /// state issues a token: the VOICE_SERVER_UPDATE sent to the user is
    /// returned too. Returns why it was refused, if it was.
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
        let flags = Flags::of(&state);
        let (change, token) = {
            let mut registry = self.registry();
            let already_here = registry
                .state(guild_id, user_id)
                .is_some_and(|s| s.channel_id == Some(channel_id));
            if !already_here && registry.channel_count(guild_id, channel_id) >= limit {
                return Err(JoinRefused::Full);
            }
            let change = registry.set(guild_id, state.clone());
            let token = match change {
                Change::Joined { .. } | Change::None => Some(registry.issue(Grant {
                    guild_id,
                    channel_id,
                    user_id,
                    session_id: session.session_id.clone(),
                    expires: Instant::now() + self.inner.config.token_ttl,
                })),
                _ => None,
            };
            (change, token)
        };
        match change {
            Change::Joined { from } => {
                if let Some(from) = from {
                    self.inner.sfu.kick(from, user_id).await;
                }
                self.publish_state(guild_id, state).await;
            }
            Change::Flags => {
                self.inner.sfu.set_flags(channel_id, user_id, flags);
                self.publish_state(guild_id, state).await;
            }
            Change::None | Change::Left { .. } => {}
        }
        let Some(token) = token else {
            return Ok(None);
        };
        let update = VoiceServerUpdate {
            token,
            guild_id,
            endpoint: Some(self.inner.config.endpoint.clone()),
        };
        let event = DispatchEvent::VoiceServerUpdate(update.clone());
        self.publish(Event::new(&event).map(|e| e.to_users([user_id])))
            .await;
        Ok(Some(update))
    }

    /// Takes a user out of voice in a guild (they left, their session
    /// ended, or a moderator disconnected them).
    pub async fn leave(&self, guild_id: Snowflake, user_id: Snowflake) {
        let (from, left) = {
            let mut registry = self.registry();
            let from = registry.state(guild_id, user_id).and_then(|s| s.channel_id);
            (from, registry.leave(guild_id, user_id))
        };
        let Some(state) = left else { return };
        if let Some(from) = from {
            self.inner.sfu.kick(from, user_id).await;
        }
        self.publish_state(guild_id, state).await;
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
        let updated = {
            let mut registry = self.registry();
            let Some(mut state) = registry.state(guild_id, user_id).cloned() else {
                return;
            };
            state.mute = mute.unwrap_or(state.mute);
            state.deaf = deaf.unwrap_or(state.deaf);
            (registry.set(guild_id, state.clone()) == Change::Flags).then_some(state)
        };
        if let Some(state) = updated {
            if let Some(channel_id) = state.channel_id {
                self.inner
                    .sfu
                    .set_flags(channel_id, user_id, Flags::of(&state));
            }
            self.publish_state(guild_id, state).await;
        }
    }

    /// The grant behind a token, as IDENTIFY needs it.
    pub(crate) fn grant(&self, token: &str) -> Option<Grant> {
        let now = Instant::now();
        let mut registry = self.registry();
        registry.sweep(now);
        let grant = registry.grant(token, now).cloned()?;
        // Good for as long as the user stays (RESUME uses it again).
        registry.extend(token, now + self.inner.config.resume_window * 4);
        Some(grant)
    }

    /// The flags a connected participant starts with.
    pub(crate) fn flags(&self, guild_id: Snowflake, user_id: Snowflake) -> Flags {
        self.registry()
            .state(guild_id, user_id)
            .map(Flags::of)
            .unwrap_or_default()
    }

    /// Re-checks CONNECT/SPEAK for a joining participant.
    pub(crate) async fn access(
        &self,
        grant: &Grant,
    ) -> Result<crate::access::ChannelAccess, Denied> {
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
        let guilds = self.registry().guilds_of_session(&session.session_id);
        for (guild_id, user_id) in guilds {
            self.leave(guild_id, user_id).await;
        }
    }
}
