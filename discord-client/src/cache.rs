//! An optional in-memory cache kept current from gateway events: guilds,
//! channels, roles, members and their users, presences, and voice states.
//!
//! Feed it every dispatch ([`Cache::update`]) and read from it at any time;
//! it is `Send + Sync`, and readers get clones. Only what the session's
//! intents deliver can be cached: members beyond GUILD_CREATE's need
//! GUILD_MEMBERS (or op 8 answers), presences need GUILD_PRESENCES, voice
//! states need GUILD_VOICE_STATES.
//!
//! ```
//! use discord_client::cache::Cache;
//! # fn events() -> Vec<discord_proto::gateway::DispatchEvent> { Vec::new() }
//! let cache = Cache::new();
//! for event in events() {
//!     cache.update(&event);
//! }
//! assert_eq!(cache.guild_ids().len(), 0);
//! ```

use std::collections::{HashMap, HashSet};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use discord_proto::Snowflake;
use discord_proto::gateway::{DispatchEvent, GatewayGuild, GuildCreate, PresenceUpdate};
use discord_proto::model::{Channel, Guild, Member, Role, Timestamp, User, VoiceState};

#[derive(Debug, Default)]
struct State {
    current_user: Option<User>,
    guilds: HashMap<Snowflake, Guild>,
    unavailable: HashSet<Snowflake>,
    channels: HashMap<Snowflake, Channel>,
    guild_channels: HashMap<Snowflake, HashSet<Snowflake>>,
    roles: HashMap<Snowflake, HashMap<Snowflake, Role>>,
    /// Members by guild, then user (without `user`; see `users`).
    members: HashMap<Snowflake, HashMap<Snowflake, Member>>,
    users: HashMap<Snowflake, User>,
    presences: HashMap<Snowflake, HashMap<Snowflake, PresenceUpdate>>,
    voice_states: HashMap<Snowflake, HashMap<Snowflake, VoiceState>>,
}

/// The cache. Cheap to share behind an `Arc`.
#[derive(Debug, Default)]
pub struct Cache {
    state: RwLock<State>,
}

impl Cache {
    /// An empty cache.
    pub fn new() -> Cache {
        Cache::default()
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies one dispatch event. Events the cache does not hold anything
    /// for are ignored.
    pub fn update(&self, event: &DispatchEvent) {
        let mut s = self.write();
        match event {
            DispatchEvent::Ready(r) => {
                s.current_user = Some(r.user.clone());
                for g in &r.guilds {
                    s.unavailable.insert(g.id);
                }
            }
            DispatchEvent::GuildCreate(GuildCreate::Available(g)) => s.guild_create(g),
            DispatchEvent::GuildCreate(GuildCreate::Unavailable(g)) => {
                s.unavailable.insert(g.id);
            }
            DispatchEvent::GuildUpdate(g) => {
                if !g.roles.is_empty() {
                    s.set_roles(g.id, &g.roles);
                }
                s.guilds.insert(g.id, (**g).clone());
            }
            DispatchEvent::GuildDelete(g) => {
                s.remove_guild(g.id);
                if g.unavailable {
                    s.unavailable.insert(g.id);
                }
            }
            DispatchEvent::ChannelCreate(c) | DispatchEvent::ChannelUpdate(c) => {
                s.insert_channel((**c).clone());
            }
            DispatchEvent::ChannelDelete(c) => {
                s.channels.remove(&c.id);
                if let Some(g) = c.guild_id
                    && let Some(set) = s.guild_channels.get_mut(&g)
                {
                    set.remove(&c.id);
                }
            }
            DispatchEvent::GuildRoleCreate(e) | DispatchEvent::GuildRoleUpdate(e) => {
                s.roles
                    .entry(e.guild_id)
                    .or_default()
                    .insert(e.role.id, e.role.clone());
            }
            DispatchEvent::GuildRoleDelete(e) => {
                if let Some(roles) = s.roles.get_mut(&e.guild_id) {
                    roles.remove(&e.role_id);
                }
                for m in s
                    .members
                    .get_mut(&e.guild_id)
                    .into_iter()
                    .flat_map(|m| m.values_mut())
                {
                    m.roles.retain(|r| *r != e.role_id);
                }
            }
            DispatchEvent::GuildMemberAdd(e) => s.insert_member(e.guild_id, e.member.clone()),
            DispatchEvent::GuildMemberUpdate(e) => {
                s.users.insert(e.user.id, e.user.clone());
                let member = s
                    .members
                    .entry(e.guild_id)
                    .or_default()
                    .entry(e.user.id)
                    .or_insert_with(|| {
                        let mut m = Member::new(e.user.clone(), Timestamp::now());
                        m.user = None;
                        m
                    });
                member.roles = e.roles.clone();
                member.nick = e.nick.clone();
                member.avatar = e.avatar.clone();
                member.joined_at = e.joined_at.or(member.joined_at);
                member.premium_since = e.premium_since;
                member.deaf = e.deaf.unwrap_or(member.deaf);
                member.mute = e.mute.unwrap_or(member.mute);
                member.pending = e.pending.or(member.pending);
                member.communication_disabled_until = e.communication_disabled_until;
                member.flags = e.flags.unwrap_or(member.flags);
            }
            DispatchEvent::GuildMemberRemove(e) => {
                if let Some(members) = s.members.get_mut(&e.guild_id) {
                    members.remove(&e.user.id);
                }
                if let Some(p) = s.presences.get_mut(&e.guild_id) {
                    p.remove(&e.user.id);
                }
            }
            DispatchEvent::GuildMembersChunk(e) => {
                for m in &e.members {
                    s.insert_member(e.guild_id, m.clone());
                }
                for p in e.presences.iter().flatten() {
                    s.insert_presence(e.guild_id, p.clone());
                }
            }
            DispatchEvent::PresenceUpdate(p) => {
                if let Some(g) = p.guild_id {
                    s.insert_presence(g, (**p).clone());
                }
            }
            DispatchEvent::VoiceStateUpdate(v) => {
                if let Some(g) = v.guild_id {
                    s.set_voice_state(g, (**v).clone());
                }
            }
            _ => {}
        }
    }

    /// The session's own user, from READY.
    pub fn current_user(&self) -> Option<User> {
        self.read().current_user.clone()
    }

    /// Every available guild.
    pub fn guild_ids(&self) -> Vec<Snowflake> {
        self.read().guilds.keys().copied().collect()
    }

    /// A guild (its `roles` are those of [`Cache::roles`]).
    pub fn guild(&self, id: Snowflake) -> Option<Guild> {
        let s = self.read();
        let mut g = s.guilds.get(&id)?.clone();
        g.roles = s.roles(id);
        Some(g)
    }

    /// Whether a guild is known but unavailable (before its GUILD_CREATE, or
    /// during an outage).
    pub fn is_unavailable(&self, id: Snowflake) -> bool {
        self.read().unavailable.contains(&id)
    }

    /// A channel.
    pub fn channel(&self, id: Snowflake) -> Option<Channel> {
        self.read().channels.get(&id).cloned()
    }

    /// A guild's channels, by position then ID.
    pub fn guild_channels(&self, guild_id: Snowflake) -> Vec<Channel> {
        let s = self.read();
        let mut out: Vec<Channel> = s
            .guild_channels
            .get(&guild_id)
            .into_iter()
            .flatten()
            .filter_map(|id| s.channels.get(id).cloned())
            .collect();
        out.sort_by_key(|c| (c.position.unwrap_or(0), c.id));
        out
    }

    /// A role.
    pub fn role(&self, guild_id: Snowflake, role_id: Snowflake) -> Option<Role> {
        self.read().roles.get(&guild_id)?.get(&role_id).cloned()
    }

    /// A guild's roles, by position then ID.
    pub fn roles(&self, guild_id: Snowflake) -> Vec<Role> {
        self.read().roles(guild_id)
    }

    /// A member, with its user.
    pub fn member(&self, guild_id: Snowflake, user_id: Snowflake) -> Option<Member> {
        let s = self.read();
        let mut m = s.members.get(&guild_id)?.get(&user_id)?.clone();
        m.user = s.users.get(&user_id).cloned();
        Some(m)
    }

    /// A guild's cached members, with their users, by user ID.
    pub fn members(&self, guild_id: Snowflake) -> Vec<Member> {
        let s = self.read();
        let mut out: Vec<Member> = s
            .members
            .get(&guild_id)
            .into_iter()
            .flatten()
            .map(|(id, m)| {
                let mut m = m.clone();
                m.user = s.users.get(id).cloned();
                m
            })
            .collect();
        out.sort_by_key(|m| m.user.as_ref().map(|u| u.id));
        out
    }

    /// How many members of a guild are cached.
    pub fn member_count(&self, guild_id: Snowflake) -> usize {
        self.read().members.get(&guild_id).map_or(0, HashMap::len)
    }

    /// A user seen in any guild.
    pub fn user(&self, id: Snowflake) -> Option<User> {
        self.read().users.get(&id).cloned()
    }

    /// A member's presence.
    pub fn presence(&self, guild_id: Snowflake, user_id: Snowflake) -> Option<PresenceUpdate> {
        self.read().presences.get(&guild_id)?.get(&user_id).cloned()
    }

    /// A member's voice state, while they are in voice.
    pub fn voice_state(&self, guild_id: Snowflake, user_id: Snowflake) -> Option<VoiceState> {
        self.read()
            .voice_states
            .get(&guild_id)?
            .get(&user_id)
            .cloned()
    }

    /// Who is in a voice channel.
    pub fn voice_channel_members(
        &self,
        guild_id: Snowflake,
        channel_id: Snowflake,
    ) -> Vec<Snowflake> {
        let s = self.read();
        let mut out: Vec<Snowflake> = s
            .voice_states
            .get(&guild_id)
            .into_iter()
            .flat_map(|m| m.values())
            .filter(|v| v.channel_id == Some(channel_id))
            .map(|v| v.user_id)
            .collect();
        out.sort();
        out
    }
}

impl State {
    fn roles(&self, guild_id: Snowflake) -> Vec<Role> {
        let mut out: Vec<Role> = self
            .roles
            .get(&guild_id)
            .map(|r| r.values().cloned().collect())
            .unwrap_or_default();
        out.sort_by_key(|r| (r.position, r.id));
        out
    }

    fn guild_create(&mut self, g: &GatewayGuild) {
        let id = g.guild.id;
        self.remove_guild(id);
        self.unavailable.remove(&id);
        self.set_roles(id, &g.guild.roles);
        for c in &g.channels {
            let mut c = c.clone();
            c.guild_id = Some(id);
            self.insert_channel(c);
        }
        for m in &g.members {
            self.insert_member(id, m.clone());
        }
        for p in &g.presences {
            self.insert_presence(id, p.clone());
        }
        for v in &g.voice_states {
            let mut v = v.clone();
            v.guild_id = Some(id);
            self.set_voice_state(id, v);
        }
        let mut guild = g.guild.clone();
        guild.roles = Vec::new();
        self.guilds.insert(id, guild);
    }

    fn remove_guild(&mut self, id: Snowflake) {
        self.guilds.remove(&id);
        self.roles.remove(&id);
        self.members.remove(&id);
        self.presences.remove(&id);
        self.voice_states.remove(&id);
        for c in self.guild_channels.remove(&id).into_iter().flatten() {
            self.channels.remove(&c);
        }
    }

    fn set_roles(&mut self, guild_id: Snowflake, roles: &[Role]) {
        self.roles
            .insert(guild_id, roles.iter().map(|r| (r.id, r.clone())).collect());
    }

    fn insert_channel(&mut self, channel: Channel) {
        if let Some(g) = channel.guild_id {
            self.guild_channels.entry(g).or_default().insert(channel.id);
        }
        self.channels.insert(channel.id, channel);
    }

    fn insert_member(&mut self, guild_id: Snowflake, mut member: Member) {
        let Some(user) = member.user.take() else {
            return;
        };
        let id = user.id;
        self.users.insert(id, user);
        self.members.entry(guild_id).or_default().insert(id, member);
    }

    fn insert_presence(&mut self, guild_id: Snowflake, presence: PresenceUpdate) {
        self.presences
            .entry(guild_id)
            .or_default()
            .insert(presence.user.id, presence);
    }

    fn set_voice_state(&mut self, guild_id: Snowflake, state: VoiceState) {
        let states = self.voice_states.entry(guild_id).or_default();
        if state.channel_id.is_some() {
            states.insert(state.user_id, state);
        } else {
            states.remove(&state.user_id);
        }
    }
}
