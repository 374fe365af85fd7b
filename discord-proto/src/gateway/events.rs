//! Dispatch events (op 0): what happened, sent by the server with an event
//! name `t` and a sequence number `s`.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::Snowflake;
use crate::model::{
    Activity, Channel, ClientStatus, Emoji, Guild, Member, Message, Role, Status, Timestamp,
    UnavailableGuild, User, VoiceState,
};

/// READY: the session is established.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ready {
    /// The API version.
    pub v: u8,
    /// The session's user.
    pub user: User,
    /// The user's guilds, all unavailable until their GUILD_CREATE arrives.
    pub guilds: Vec<UnavailableGuild>,
    /// The session's ID, for RESUME.
    pub session_id: String,
    /// Where to reconnect to resume.
    pub resume_gateway_url: String,
    /// `[shard_id, num_shards]`, when the session is sharded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<[u32; 2]>,
    /// The bot's application (`id` and `flags`); left out for user sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<ReadyApplication>,
    /// DM channels (always empty for bots).
    #[serde(default)]
    pub private_channels: Vec<Channel>,
}

/// The partial application in READY.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyApplication {
    /// The application's ID.
    pub id: Snowflake,
    /// Application flags.
    #[serde(default)]
    pub flags: u64,
}

/// GUILD_CREATE for a guild that is available: the guild with everything a
/// client needs to start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GatewayGuild {
    /// The guild object.
    #[serde(flatten)]
    pub guild: Guild,
    /// When the session's user joined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined_at: Option<Timestamp>,
    /// Whether the guild has more members than the session's `large_threshold`.
    #[serde(default)]
    pub large: bool,
    /// Always false here; unavailable guilds are [`GuildCreate::Unavailable`].
    #[serde(default)]
    pub unavailable: bool,
    /// Total members.
    #[serde(default)]
    pub member_count: u32,
    /// Voice states of members in voice channels (without `guild_id`).
    #[serde(default)]
    pub voice_states: Vec<VoiceState>,
    /// Members (all of them, or the online ones for large guilds).
    #[serde(default)]
    pub members: Vec<Member>,
    /// Channels the user can see.
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// Active threads the user can see.
    #[serde(default)]
    pub threads: Vec<Channel>,
    /// Presences of members (with the GUILD_PRESENCES intent).
    #[serde(default)]
    pub presences: Vec<PresenceUpdate>,
}

/// GUILD_CREATE's data: a full guild, or one that is still unavailable
/// because of an outage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum GuildCreate {
    /// The guild is available.
    Available(Box<GatewayGuild>),
    /// The guild is unavailable (`{id, unavailable: true}`).
    Unavailable(UnavailableGuild),
}

/// GUILD_MEMBER_ADD: a member joined (with the guild's ID).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuildMemberAdd {
    /// The guild.
    pub guild_id: Snowflake,
    /// The new member.
    #[serde(flatten)]
    pub member: Member,
}

/// GUILD_MEMBER_UPDATE: a member changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuildMemberUpdate {
    /// The guild.
    pub guild_id: Snowflake,
    /// The member's role IDs.
    pub roles: Vec<Snowflake>,
    /// The user.
    pub user: User,
    /// Nickname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nick: Option<String>,
    /// Guild avatar hash.
    #[serde(default)]
    pub avatar: Option<String>,
    /// When the user joined.
    #[serde(default)]
    pub joined_at: Option<Timestamp>,
    /// When the user started boosting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub premium_since: Option<Timestamp>,
    /// Server-deafened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deaf: Option<bool>,
    /// Server-muted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mute: Option<bool>,
    /// Pending membership screening.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<bool>,
    /// Timed out until.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub communication_disabled_until: Option<Timestamp>,
    /// Member flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<u32>,
}

/// GUILD_MEMBER_REMOVE: a member left or was removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuildMemberRemove {
    /// The guild.
    pub guild_id: Snowflake,
    /// The user who left.
    pub user: User,
}

/// GUILD_MEMBERS_CHUNK: an answer to REQUEST_GUILD_MEMBERS.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GuildMembersChunk {
    /// The guild.
    pub guild_id: Snowflake,
    /// Members in this chunk.
    pub members: Vec<Member>,
    /// Index of this chunk (0-based).
    pub chunk_index: u32,
    /// Number of chunks in the answer.
    pub chunk_count: u32,
    /// Requested user IDs that were not found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_found: Option<Vec<Snowflake>>,
    /// Presences of the members, when requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presences: Option<Vec<PresenceUpdate>>,
    /// The request's nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// GUILD_ROLE_CREATE and GUILD_ROLE_UPDATE.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuildRoleEvent {
    /// The guild.
    pub guild_id: Snowflake,
    /// The role as it is now.
    pub role: Role,
}

/// GUILD_ROLE_DELETE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuildRoleDelete {
    /// The guild.
    pub guild_id: Snowflake,
    /// The deleted role.
    pub role_id: Snowflake,
}

/// MESSAGE_DELETE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDelete {
    /// The deleted message.
    pub id: Snowflake,
    /// Its channel.
    pub channel_id: Snowflake,
    /// Its guild.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Snowflake>,
}

/// MESSAGE_DELETE_BULK.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDeleteBulk {
    /// The deleted messages.
    pub ids: Vec<Snowflake>,
    /// Their channel.
    pub channel_id: Snowflake,
    /// Their guild.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Snowflake>,
}

/// MESSAGE_REACTION_ADD.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageReactionAdd {
    /// Who reacted.
    pub user_id: Snowflake,
    /// The channel.
    pub channel_id: Snowflake,
    /// The message.
    pub message_id: Snowflake,
    /// The guild.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Snowflake>,
    /// The reacting member, in guilds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<Member>,
    /// The emoji (partial).
    pub emoji: Emoji,
    /// The message's author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_author_id: Option<Snowflake>,
    /// Whether it is a super reaction.
    #[serde(default)]
    pub burst: bool,
    /// Colours of a super reaction.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub burst_colors: Vec<String>,
    /// 0 normal, 1 burst.
    #[serde(rename = "type", default)]
    pub kind: u8,
}

/// MESSAGE_REACTION_REMOVE.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageReactionRemove {
    /// Whose reaction was removed.
    pub user_id: Snowflake,
    /// The channel.
    pub channel_id: Snowflake,
    /// The message.
    pub message_id: Snowflake,
    /// The guild.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Snowflake>,
    /// The emoji (partial).
    pub emoji: Emoji,
    /// Whether it was a super reaction.
    #[serde(default)]
    pub burst: bool,
    /// 0 normal, 1 burst.
    #[serde(rename = "type", default)]
    pub kind: u8,
}

/// TYPING_START.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypingStart {
    /// The channel.
    pub channel_id: Snowflake,
    /// The guild.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Snowflake>,
    /// Who is typing.
    pub user_id: Snowflake,
    /// Unix time in seconds when typing started.
    pub timestamp: u64,
    /// The typing member, in guilds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<Member>,
}

/// The user in a PRESENCE_UPDATE: only `id` is guaranteed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceUser {
    /// The user's ID.
    pub id: Snowflake,
    /// Other user fields, when they changed.
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

/// PRESENCE_UPDATE: a user's status or activities changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceUpdate {
    /// The user.
    pub user: PresenceUser,
    /// The guild (absent inside GUILD_CREATE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Snowflake>,
    /// Status.
    pub status: Status,
    /// Current activities.
    #[serde(default)]
    pub activities: Vec<Activity>,
    /// Status per platform.
    #[serde(default)]
    pub client_status: ClientStatus,
}

/// VOICE_SERVER_UPDATE: where to connect for voice in a guild.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceServerUpdate {
    /// Voice connection token.
    pub token: String,
    /// The guild.
    pub guild_id: Snowflake,
    /// The voice server's host; `null` while it is being reallocated.
    pub endpoint: Option<String>,
}

/// INVITE_CREATE.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteCreate {
    /// The channel the invite is for.
    pub channel_id: Snowflake,
    /// The invite code.
    pub code: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// The guild.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Snowflake>,
    /// Who created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inviter: Option<User>,
    /// Lifetime in seconds.
    pub max_age: u32,
    /// Maximum uses (0 unlimited).
    pub max_uses: u32,
    /// Whether membership is temporary.
    #[serde(default)]
    pub temporary: bool,
    /// Times used (always 0).
    #[serde(default)]
    pub uses: u32,
    /// When it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

/// INVITE_DELETE.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteDelete {
    /// The channel.
    pub channel_id: Snowflake,
    /// The guild.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Snowflake>,
    /// The invite code.
    pub code: String,
}

macro_rules! dispatch_events {
    ($( $(#[$doc:meta])* $variant:ident($ty:ty) = $name:literal, )*) => {
        /// A dispatch event with typed data. Events this crate does not type
        /// decode to [`DispatchEvent::Unknown`] with their raw JSON, never to
        /// an error.
        #[derive(Clone, Debug)]
        #[non_exhaustive]
        pub enum DispatchEvent {
            $( $(#[$doc])* $variant($ty), )*
            /// RESUMED: a RESUME finished replaying missed events.
            Resumed,
            /// An event this crate does not type: its name and raw data.
            Unknown {
                /// The event name (`t`).
                name: String,
                /// The raw `d`.
                data: Box<RawValue>,
            },
        }

        impl DispatchEvent {
            /// The event's name, the `t` of its payload.
            pub fn name(&self) -> &str {
                match self {
                    $( DispatchEvent::$variant(_) => $name, )*
                    DispatchEvent::Resumed => "RESUMED",
                    DispatchEvent::Unknown { name, .. } => name,
                }
            }

            /// Decodes the data `d` of the event named `name`. Names this
            /// crate does not type become [`DispatchEvent::Unknown`]; a known
            /// name with data of the wrong shape is an error.
            pub fn from_raw(name: &str, data: &RawValue) -> Result<Self, serde_json::Error> {
                Ok(match name {
                    $( $name => DispatchEvent::$variant(serde_json::from_str(data.get())?), )*
                    "RESUMED" => DispatchEvent::Resumed,
                    _ => DispatchEvent::Unknown {
                        name: name.to_owned(),
                        data: data.to_owned(),
                    },
                })
            }
        }

        impl Serialize for DispatchEvent {
            /// Serializes the event's data (the `d` of its payload).
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $( DispatchEvent::$variant(data) => data.serialize(serializer), )*
                    DispatchEvent::Resumed => serializer.serialize_none(),
                    DispatchEvent::Unknown { data, .. } => data.serialize(serializer),
                }
            }
        }
    };
}

dispatch_events! {
    /// READY.
    Ready(Box<Ready>) = "READY",
    /// GUILD_CREATE: a guild became available or the user joined one.
    GuildCreate(GuildCreate) = "GUILD_CREATE",
    /// GUILD_UPDATE.
    GuildUpdate(Box<Guild>) = "GUILD_UPDATE",
    /// GUILD_DELETE: the guild became unavailable, or the user left it.
    GuildDelete(UnavailableGuild) = "GUILD_DELETE",
    /// GUILD_MEMBER_ADD.
    GuildMemberAdd(Box<GuildMemberAdd>) = "GUILD_MEMBER_ADD",
    /// GUILD_MEMBER_UPDATE.
    GuildMemberUpdate(Box<GuildMemberUpdate>) = "GUILD_MEMBER_UPDATE",
    /// GUILD_MEMBER_REMOVE.
    GuildMemberRemove(Box<GuildMemberRemove>) = "GUILD_MEMBER_REMOVE",
    /// GUILD_MEMBERS_CHUNK.
    GuildMembersChunk(Box<GuildMembersChunk>) = "GUILD_MEMBERS_CHUNK",
    /// GUILD_ROLE_CREATE.
    GuildRoleCreate(Box<GuildRoleEvent>) = "GUILD_ROLE_CREATE",
    /// GUILD_ROLE_UPDATE.
    GuildRoleUpdate(Box<GuildRoleEvent>) = "GUILD_ROLE_UPDATE",
    /// GUILD_ROLE_DELETE.
    GuildRoleDelete(GuildRoleDelete) = "GUILD_ROLE_DELETE",
    /// CHANNEL_CREATE.
    ChannelCreate(Box<Channel>) = "CHANNEL_CREATE",
    /// CHANNEL_UPDATE.
    ChannelUpdate(Box<Channel>) = "CHANNEL_UPDATE",
    /// CHANNEL_DELETE.
    ChannelDelete(Box<Channel>) = "CHANNEL_DELETE",
    /// MESSAGE_CREATE.
    MessageCreate(Box<Message>) = "MESSAGE_CREATE",
    /// MESSAGE_UPDATE (the whole updated message).
    MessageUpdate(Box<Message>) = "MESSAGE_UPDATE",
    /// MESSAGE_DELETE.
    MessageDelete(MessageDelete) = "MESSAGE_DELETE",
    /// MESSAGE_DELETE_BULK.
    MessageDeleteBulk(MessageDeleteBulk) = "MESSAGE_DELETE_BULK",
    /// MESSAGE_REACTION_ADD.
    MessageReactionAdd(Box<MessageReactionAdd>) = "MESSAGE_REACTION_ADD",
    /// MESSAGE_REACTION_REMOVE.
    MessageReactionRemove(Box<MessageReactionRemove>) = "MESSAGE_REACTION_REMOVE",
    /// TYPING_START.
    TypingStart(Box<TypingStart>) = "TYPING_START",
    /// PRESENCE_UPDATE.
    PresenceUpdate(Box<PresenceUpdate>) = "PRESENCE_UPDATE",
    /// VOICE_STATE_UPDATE.
    VoiceStateUpdate(Box<VoiceState>) = "VOICE_STATE_UPDATE",
    /// VOICE_SERVER_UPDATE.
    VoiceServerUpdate(VoiceServerUpdate) = "VOICE_SERVER_UPDATE",
    /// INVITE_CREATE.
    InviteCreate(Box<InviteCreate>) = "INVITE_CREATE",
    /// INVITE_DELETE.
    InviteDelete(InviteDelete) = "INVITE_DELETE",
}

impl PartialEq for DispatchEvent {
    /// Events are equal when their names and data (as JSON values) are.
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
            && serde_json::to_value(self).ok() == serde_json::to_value(other).ok()
    }
}

impl DispatchEvent {
    /// The event's data serialized once, for sending the same event to many
    /// sessions with [`super::encode_dispatch`].
    pub fn to_raw(&self) -> Result<Box<RawValue>, serde_json::Error> {
        serde_json::value::to_raw_value(self)
    }

    /// The guild the event happened in, if its data says so (used to pick a
    /// shard and the intent that gates it).
    pub fn guild_id(&self) -> Option<Snowflake> {
        match self {
            DispatchEvent::GuildCreate(g) => Some(match g {
                GuildCreate::Available(g) => g.guild.id,
                GuildCreate::Unavailable(g) => g.id,
            }),
            DispatchEvent::GuildUpdate(g) => Some(g.id),
            DispatchEvent::GuildDelete(g) => Some(g.id),
            DispatchEvent::GuildMemberAdd(e) => Some(e.guild_id),
            DispatchEvent::GuildMemberUpdate(e) => Some(e.guild_id),
            DispatchEvent::GuildMemberRemove(e) => Some(e.guild_id),
            DispatchEvent::GuildMembersChunk(e) => Some(e.guild_id),
            DispatchEvent::GuildRoleCreate(e) | DispatchEvent::GuildRoleUpdate(e) => {
                Some(e.guild_id)
            }
            DispatchEvent::GuildRoleDelete(e) => Some(e.guild_id),
            DispatchEvent::ChannelCreate(c)
            | DispatchEvent::ChannelUpdate(c)
            | DispatchEvent::ChannelDelete(c) => c.guild_id,
            DispatchEvent::MessageCreate(m) | DispatchEvent::MessageUpdate(m) => m.guild_id,
            DispatchEvent::MessageDelete(e) => e.guild_id,
            DispatchEvent::MessageDeleteBulk(e) => e.guild_id,
            DispatchEvent::MessageReactionAdd(e) => e.guild_id,
            DispatchEvent::MessageReactionRemove(e) => e.guild_id,
            DispatchEvent::TypingStart(e) => e.guild_id,
            DispatchEvent::PresenceUpdate(e) => e.guild_id,
            DispatchEvent::VoiceStateUpdate(e) => e.guild_id,
            DispatchEvent::VoiceServerUpdate(e) => Some(e.guild_id),
            DispatchEvent::InviteCreate(e) => e.guild_id,
            DispatchEvent::InviteDelete(e) => e.guild_id,
            DispatchEvent::Ready(_) | DispatchEvent::Resumed | DispatchEvent::Unknown { .. } => {
                None
            }
        }
    }
}
