//! Starting a session: IDENTIFY (READY and GUILD_CREATE) and RESUME
//! (hand-over, replay, RESUMED), and the ways they are refused.

use std::sync::Arc;

use discord_proto::Snowflake;
use discord_proto::gateway::{
    CloseCode, GatewayGuild, GuildCreate, Identify, Intents, Ready, Resume,
};
use discord_proto::model::{Status, UnavailableGuild};
use discord_store::presence::PresenceRecord;
use discord_store::session::Replay;

use super::*;

impl Conn {
    pub(super) async fn identify(&mut self, identify: Box<Identify>) -> Option<Ended> {
        let inner = Arc::clone(&self.inner);
        let identity = match inner.data.authenticate(&identify.token).await {
            Ok(identity) => identity,
            Err(AuthError::InvalidToken) => {
                return self.fail(CloseCode::AuthenticationFailed).await;
            }
            Err(AuthError::Unavailable(e)) => {
                tracing::warn!("authentication unavailable: {e}");
                return self.fail(CloseCode::UnknownError).await;
            }
        };
        let privileged = identify.intents & Intents::PRIVILEGED;
        if !identity.allowed_privileged.contains(privileged) {
            return self.fail(CloseCode::DisallowedIntents).await;
        }
        let user = identity.user.clone();
        let guilds = match inner.data.guilds(user.id).await {
            Ok(g) => g,
            Err(e) => {
                tracing::warn!("loading guilds failed: {e}");
                return self.fail(CloseCode::UnknownError).await;
            }
        };
        let shard = identify.shard.filter(|s| s[1] > 1);
        if identity.application.is_some()
            && shard.is_none()
            && guilds.len() > inner.config.max_guilds_per_shard
        {
            return self.fail(CloseCode::ShardingRequired).await;
        }
        let presence = identify
            .presence
            .as_ref()
            .map(presence_record)
            .unwrap_or(PresenceRecord {
                status: Status::Online,
                activities: Vec::new(),
                client_status: Default::default(),
            });
        let session_id = format!("{:032x}", rand::random::<u128>());
        let live = self.new_live(
            session_id.clone(),
            user.id,
            identify.intents,
            shard,
            presence,
        );
        let guilds: Vec<GatewayGuild> = guilds
            .into_iter()
            .filter(|g| on_shard(shard, Some(g.guild.id)))
            .collect();
        inner.hub.register(Arc::clone(&live.handle), &guilds).await;
        inner.hub.set_owner(&live.handle);
        self.live = Some(live);
        self.proto.identified();
        let ready = Ready {
            v: 10,
            user: user.clone(),
            guilds: guilds
                .iter()
                .map(|g| UnavailableGuild {
                    id: g.guild.id,
                    unavailable: true,
                })
                .collect(),
            session_id,
            resume_gateway_url: inner.config.resume_gateway_url.clone(),
            shard: identify.shard,
            application: identity.application,
            private_channels: Vec::new(),
        };
        let ready = serde_json::to_string(&ready).unwrap_or_else(|_| "{}".into());
        if let Some(record) = self.record(None)
            && let Err(e) = inner
                .stores
                .sessions
                .save(&record, self.session_ttl())
                .await
        {
            tracing::warn!("saving the session failed: {e}");
            return self.fail(CloseCode::UnknownError).await;
        }
        let frame = self.proto.dispatch("READY", &ready);
        if self.send_text(frame).is_err() {
            return Some(Ended::Detached);
        }
        let threshold = identify.large_threshold.unwrap_or(50).clamp(50, 250) as usize;
        for guild in guilds {
            let id = guild.guild.id;
            let data =
                Self::guild_create(&inner, user.id, guild, threshold, identify.intents).await;
            let frame = self.proto.dispatch("GUILD_CREATE", &data);
            self.append_log(logged::guild_create(id, threshold)).await;
            if self.send_text(frame).is_err() {
                return Some(Ended::Detached);
            }
        }
        if self.flush().await.is_err() {
            self.socket = None;
            return Some(Ended::Detached);
        }
        // Tell the user's guilds they are here.
        let live = self.live.as_ref()?;
        let _ = inner
            .stores
            .presence
            .set(user.id, &live.presence, inner.config.presence_ttl)
            .await;
        let update = presence_update(user.id, &live.presence);
        let guilds = inner.hub.guilds_of(self.conn);
        inner.announce_presence(update, &guilds).await;
        None
    }

    /// GUILD_CREATE's data for this session: channels it may see, members
    /// up to the large threshold, presences with GUILD_PRESENCES.
    pub(super) async fn guild_create(
        inner: &Inner,
        user: Snowflake,
        mut guild: GatewayGuild,
        threshold: usize,
        intents: Intents,
    ) -> String {
        let mut view = GuildView::new(&guild);
        if !view.is_member(user) {
            view.set_member(user, Vec::new());
        }
        guild.channels.retain(|c| view.can_view(user, c.id));
        guild.member_count = guild.member_count.max(guild.members.len() as u32);
        let member_ids: Vec<Snowflake> = guild
            .members
            .iter()
            .filter_map(|m| m.user.as_ref().map(|u| u.id))
            .collect();
        let presences = inner
            .stores
            .presence
            .get_many(&member_ids)
            .await
            .unwrap_or_default();
        if guild.member_count as usize > threshold {
            guild.large = true;
            let online: HashSet<Snowflake> = presences
                .iter()
                .filter(|(_, p)| p.status != Status::Offline)
                .map(|(id, _)| *id)
                .collect();
            guild.members.retain(|m| {
                m.user
                    .as_ref()
                    .is_some_and(|u| u.id == user || online.contains(&u.id))
            });
        }
        if intents.contains(Intents::GUILD_PRESENCES) {
            guild.presences = presences
                .iter()
                .map(|(id, p)| presence_update(*id, p))
                .collect();
        }
        guild.unavailable = false;
        serde_json::to_string(&GuildCreate::Available(Box::new(guild)))
            .unwrap_or_else(|_| "{}".into())
    }

    pub(super) async fn resume(&mut self, resume: Box<Resume>) -> Option<Ended> {
        let inner = Arc::clone(&self.inner);
        let identity = match inner.data.authenticate(&resume.token).await {
            Ok(identity) => identity,
            Err(AuthError::InvalidToken) => {
                return self.fail(CloseCode::AuthenticationFailed).await;
            }
            Err(AuthError::Unavailable(_)) => return self.invalid_session(true).await,
        };
        let record = match inner.stores.sessions.get(&resume.session_id).await {
            Ok(Some(r)) if r.user_id == identity.user.id => r,
            Ok(_) => return self.invalid_session(false).await,
            Err(e) => {
                tracing::warn!("session lookup failed: {e}");
                return self.invalid_session(true).await;
            }
        };
        let guilds = match inner.data.guilds(identity.user.id).await {
            Ok(g) => g,
            Err(_) => return self.invalid_session(true).await,
        };
        let shard = Some(record.shard).filter(|s| s[1] > 1);
        let intents = Intents::from_bits_retain(record.intents);
        let guilds: Vec<GatewayGuild> = guilds
            .into_iter()
            .filter(|g| on_shard(shard, Some(g.guild.id)))
            .collect();
        let presence = inner
            .stores
            .presence
            .get_many(&[identity.user.id])
            .await
            .ok()
            .and_then(|mut v| v.pop())
            .map(|(_, p)| p)
            .unwrap_or(PresenceRecord {
                status: Status::Online,
                activities: Vec::new(),
                client_status: Default::default(),
            });
        let live = self.new_live(
            record.session_id.clone(),
            identity.user.id,
            intents,
            shard,
            presence,
        );
        // Subscribe first, then take the session over, then read the log:
        // every event is in the log, in this connection's queue, or both.
        inner.hub.register(Arc::clone(&live.handle), &guilds).await;
        inner
            .take_over(&record.session_id, record.node_id.as_deref(), self.conn)
            .await;
        inner.hub.set_owner(&live.handle);
        let record = inner
            .stores
            .sessions
            .get(&record.session_id)
            .await
            .ok()
            .flatten()
            .unwrap_or(record);
        let replay = match inner
            .stores
            .sessions
            .replay_after(&record.session_id, resume.seq)
            .await
        {
            Ok(replay) => replay,
            Err(e) => {
                tracing::warn!("replay failed: {e}");
                inner.hub.unregister(self.conn);
                return self.invalid_session(true).await;
            }
        };
        let entries = match replay {
            Replay::Events(entries) => entries,
            Replay::Gap if resume.seq > record.seq => {
                inner.hub.unregister(self.conn);
                return self.fail(CloseCode::InvalidSeq).await;
            }
            Replay::Gap | Replay::UnknownSession => {
                inner.hub.unregister(self.conn);
                return self.invalid_session(false).await;
            }
        };
        self.live = Some(live);
        let last = entries.last().map_or(resume.seq, |(seq, _)| *seq);
        self.proto.resumed(last);
        for (seq, payload) in entries {
            let frame = match logged::parse(&payload) {
                Some(logged::Logged::Dispatch { id, name, data }) => {
                    if let Some(live) = self.live.as_mut() {
                        live.dedup.get_or_insert_default().insert(id);
                    }
                    frame::dispatch(name, seq, data)
                }
                // Made again from the guild as it is now; a guild the user
                // has left since is skipped (its GUILD_DELETE follows).
                Some(logged::Logged::GuildCreate { guild, threshold }) => {
                    let Some(guild) = guilds.iter().find(|g| g.guild.id == guild) else {
                        continue;
                    };
                    let data = Self::guild_create(
                        &inner,
                        identity.user.id,
                        guild.clone(),
                        threshold,
                        intents,
                    )
                    .await;
                    frame::dispatch("GUILD_CREATE", seq, &data)
                }
                None => {
                    tracing::warn!(seq, "unreadable replay-log entry skipped");
                    continue;
                }
            };
            if self.send_text(frame).is_err() {
                self.socket = None;
                return Some(Ended::Detached);
            }
        }
        if self.dispatch_now("RESUMED", "{}", 0).await.is_err() || self.flush().await.is_err() {
            self.socket = None;
            return Some(Ended::Detached);
        }
        if let Some(record) = self.record(None) {
            let _ = inner
                .stores
                .sessions
                .save(&record, self.session_ttl())
                .await;
        }
        None
    }

    pub(super) async fn invalid_session(&mut self, resumable: bool) -> Option<Ended> {
        let frame = self.proto.invalid_session(resumable);
        if self.send_text(frame).is_err() || self.flush().await.is_err() {
            self.socket = None;
            return Some(self.ended_without_socket());
        }
        None
    }

    pub(super) async fn fail(&mut self, code: CloseCode) -> Option<Ended> {
        if let Some(live) = self.live.take() {
            self.inner.hub.unregister(live.handle.conn);
        }
        self.proto.close(code);
        self.close(code, code.reason()).await;
        Some(Ended::Finished)
    }
}
