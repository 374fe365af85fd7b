//! What a node knows of a guild to decide who may see an event: its owner,
//! roles, channels with their overwrites and every member's roles, kept up
//! to date from the guild's own events as they pass through the node.

use std::collections::HashMap;

use discord_proto::Snowflake;
use discord_proto::gateway::{DispatchEvent, GatewayGuild};
use discord_proto::model::{ChannelType, PermissionOverwrite, Role};
use discord_proto::permissions::{MemberPermissions, Permissions};

#[derive(Clone, Debug)]
struct ChannelInfo {
    kind: ChannelType,
    overwrites: Vec<PermissionOverwrite>,
}

/// One guild's permission-relevant state with a cache of "can this user
/// see this channel" answers, cleared whenever the state changes.
#[derive(Clone, Debug)]
pub struct GuildView {
    guild_id: Snowflake,
    owner_id: Snowflake,
    roles: Vec<Role>,
    channels: HashMap<Snowflake, ChannelInfo, Fast>,
    members: HashMap<Snowflake, Vec<Snowflake>, Fast>,
    /// Looked up for a recipient of a channel event whose kept answer
    /// ([`Seen`]) is for another channel or stale.
    visible: HashMap<(Snowflake, Snowflake), bool, Fast>,
    /// Counts the changes of who sees what, so that an answer kept
    /// elsewhere ([`Seen`]) knows when it is stale.
    generation: u64,
}

/// One recipient's last answer from [`GuildView::can_view_seen`]: fanout
/// keeps it beside the session in the guild's list, so that a session
/// receiving one channel's events is not looked up in the view's cache for
/// each of them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Seen {
    channel: Snowflake,
    /// The view's generation when this was answered (0: never).
    generation: u64,
    visible: bool,
}

/// foldhash, seeded per process, rather than SipHash: the keys are IDs the
/// server made, and `visible` is looked up for every recipient of every
/// channel event (SipHash there was 1.4% of the gateway's CPU at 1 M
/// deliveries/s).
type Fast = foldhash::fast::RandomState;

impl GuildView {
    /// The view of a guild as GUILD_CREATE describes it.
    pub fn new(guild: &GatewayGuild) -> Self {
        let channels = guild
            .channels
            .iter()
            .map(|c| {
                (
                    c.id,
                    ChannelInfo {
                        kind: c.kind,
                        overwrites: c.permission_overwrites.clone().unwrap_or_default(),
                    },
                )
            })
            .collect();
        let members = guild
            .members
            .iter()
            .filter_map(|m| Some((m.user.as_ref()?.id, m.roles.clone())))
            .collect();
        GuildView {
            guild_id: guild.guild.id,
            owner_id: guild.guild.owner_id,
            roles: guild.guild.roles.clone(),
            channels,
            members,
            visible: HashMap::default(),
            generation: 1,
        }
    }

    /// The guild's ID.
    pub fn guild_id(&self) -> Snowflake {
        self.guild_id
    }

    /// Whether `user` is a member.
    pub fn is_member(&self, user: Snowflake) -> bool {
        self.members.contains_key(&user)
    }

    /// Records a member and their roles (for a member whose data came from
    /// elsewhere than the guild's events, e.g. a session's own GUILD_CREATE).
    pub fn set_member(&mut self, user: Snowflake, roles: Vec<Snowflake>) {
        self.members.insert(user, roles);
        self.changed();
    }

    /// Whether `user` has VIEW_CHANNEL in `channel`. Unknown channels and
    /// non-members see nothing.
    pub fn can_view(&mut self, user: Snowflake, channel: Snowflake) -> bool {
        if let Some(v) = self.visible.get(&(channel, user)) {
            return *v;
        }
        let v = self.compute(user, channel);
        self.visible.insert((channel, user), v);
        v
    }

    /// [`can_view`](Self::can_view), answered from `seen` when it holds
    /// the answer for this channel since the view last changed; else
    /// looked up and kept in `seen`.
    pub fn can_view_seen(&mut self, user: Snowflake, channel: Snowflake, seen: &mut Seen) -> bool {
        if seen.generation == self.generation && seen.channel == channel {
            return seen.visible;
        }
        let visible = self.can_view(user, channel);
        *seen = Seen {
            channel,
            generation: self.generation,
            visible,
        };
        visible
    }

    /// Forgets every answer: who sees what may have changed.
    fn changed(&mut self) {
        self.visible.clear();
        self.generation += 1;
    }

    fn compute(&self, user: Snowflake, channel: Snowflake) -> bool {
        let (Some(info), Some(member_roles)) =
            (self.channels.get(&channel), self.members.get(&user))
        else {
            return false;
        };
        MemberPermissions::new(
            self.guild_id,
            self.owner_id,
            &self.roles,
            user,
            member_roles,
        )
        .channel(info.kind, &info.overwrites)
        .contains(Permissions::VIEW_CHANNEL)
    }

    /// Applies an event of this guild that changes who sees what. Returns
    /// `true` if the view changed.
    pub fn apply(&mut self, event: &DispatchEvent) -> bool {
        match event {
            DispatchEvent::GuildUpdate(g) => self.owner_id = g.owner_id,
            DispatchEvent::GuildRoleCreate(e) | DispatchEvent::GuildRoleUpdate(e) => {
                match self.roles.iter_mut().find(|r| r.id == e.role.id) {
                    Some(r) => *r = e.role.clone(),
                    None => self.roles.push(e.role.clone()),
                }
            }
            DispatchEvent::GuildRoleDelete(e) => {
                self.roles.retain(|r| r.id != e.role_id);
                for roles in self.members.values_mut() {
                    roles.retain(|r| *r != e.role_id);
                }
            }
            DispatchEvent::ChannelCreate(c) | DispatchEvent::ChannelUpdate(c) => {
                self.channels.insert(
                    c.id,
                    ChannelInfo {
                        kind: c.kind,
                        overwrites: c.permission_overwrites.clone().unwrap_or_default(),
                    },
                );
            }
            DispatchEvent::ChannelDelete(c) => {
                self.channels.remove(&c.id);
            }
            DispatchEvent::GuildMemberAdd(e) => {
                let Some(user) = &e.member.user else {
                    return false;
                };
                self.members.insert(user.id, e.member.roles.clone());
            }
            DispatchEvent::GuildMemberUpdate(e) => {
                self.members.insert(e.user.id, e.roles.clone());
            }
            DispatchEvent::GuildMemberRemove(e) => {
                self.members.remove(&e.user.id);
            }
            _ => return false,
        }
        self.changed();
        true
    }

    /// Whether an event named `name` can change the view (so the hub only
    /// decodes those).
    pub fn is_relevant(name: &str) -> bool {
        matches!(
            name,
            "GUILD_UPDATE"
                | "GUILD_ROLE_CREATE"
                | "GUILD_ROLE_UPDATE"
                | "GUILD_ROLE_DELETE"
                | "CHANNEL_CREATE"
                | "CHANNEL_UPDATE"
                | "CHANNEL_DELETE"
                | "GUILD_MEMBER_ADD"
                | "GUILD_MEMBER_UPDATE"
                | "GUILD_MEMBER_REMOVE"
        )
    }
}

#[cfg(test)]
pub(crate) mod tests;
