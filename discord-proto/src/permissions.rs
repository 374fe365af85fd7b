//! Permissions as bitflags, and Discord's algorithm for a member's
//! permissions in a guild and in a channel.
//!
//! The algorithm, as Discord documents it:
//!
//! 1. **Guild level.** The owner has every permission. Otherwise start from
//!    the @everyone role (whose ID is the guild's), OR in each of the member's
//!    roles; a result with ADMINISTRATOR has every permission.
//! 2. **Channel level.** ADMINISTRATOR (or ownership) skips overwrites.
//!    Otherwise apply the channel's overwrites in order: the @everyone
//!    overwrite (deny, then allow); then all of the member's role overwrites
//!    together (deny the union of their denies, then allow the union of their
//!    allows); then the member's own overwrite (deny, then allow).
//! 3. **Implicit rules.** Without VIEW_CHANNEL a member has nothing in the
//!    channel. In a channel that holds messages, without SEND_MESSAGES the
//!    member also cannot MENTION_EVERYONE, SEND_TTS_MESSAGES, ATTACH_FILES or
//!    EMBED_LINKS. In a voice or stage channel, without CONNECT only
//!    VIEW_CHANNEL remains. A timed-out member (not owner, not administrator)
//!    keeps only VIEW_CHANNEL and READ_MESSAGE_HISTORY.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Snowflake;
use crate::model::{ChannelType, OverwriteType, PermissionOverwrite, Role};

bitflags::bitflags! {
    /// A set of permissions, written in JSON as a string holding the decimal
    /// integer (`"2048"`). Bits this crate does not name are kept as they are.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct Permissions: u64 {
        /// Create invites.
        const CREATE_INSTANT_INVITE = 1 << 0;
        /// Kick members.
        const KICK_MEMBERS = 1 << 1;
        /// Ban members.
        const BAN_MEMBERS = 1 << 2;
        /// Every permission, bypassing channel overwrites.
        const ADMINISTRATOR = 1 << 3;
        /// Create, edit and delete channels.
        const MANAGE_CHANNELS = 1 << 4;
        /// Change the guild's settings.
        const MANAGE_GUILD = 1 << 5;
        /// Add new reactions to messages.
        const ADD_REACTIONS = 1 << 6;
        /// Read the audit log.
        const VIEW_AUDIT_LOG = 1 << 7;
        /// Priority speaker in voice.
        const PRIORITY_SPEAKER = 1 << 8;
        /// Go live.
        const STREAM = 1 << 9;
        /// See a channel and read its messages.
        const VIEW_CHANNEL = 1 << 10;
        /// Send messages.
        const SEND_MESSAGES = 1 << 11;
        /// Send text-to-speech messages.
        const SEND_TTS_MESSAGES = 1 << 12;
        /// Delete and pin others' messages.
        const MANAGE_MESSAGES = 1 << 13;
        /// Links in messages are embedded.
        const EMBED_LINKS = 1 << 14;
        /// Upload files.
        const ATTACH_FILES = 1 << 15;
        /// Read earlier messages.
        const READ_MESSAGE_HISTORY = 1 << 16;
        /// Mention @everyone and @here.
        const MENTION_EVERYONE = 1 << 17;
        /// Use emojis from other guilds.
        const USE_EXTERNAL_EMOJIS = 1 << 18;
        /// See guild insights.
        const VIEW_GUILD_INSIGHTS = 1 << 19;
        /// Join a voice channel.
        const CONNECT = 1 << 20;
        /// Speak in a voice channel.
        const SPEAK = 1 << 21;
        /// Mute others in voice.
        const MUTE_MEMBERS = 1 << 22;
        /// Deafen others in voice.
        const DEAFEN_MEMBERS = 1 << 23;
        /// Move members between voice channels.
        const MOVE_MEMBERS = 1 << 24;
        /// Use voice activity detection.
        const USE_VAD = 1 << 25;
        /// Change one's own nickname.
        const CHANGE_NICKNAME = 1 << 26;
        /// Change others' nicknames.
        const MANAGE_NICKNAMES = 1 << 27;
        /// Manage roles below one's highest role.
        const MANAGE_ROLES = 1 << 28;
        /// Manage webhooks.
        const MANAGE_WEBHOOKS = 1 << 29;
        /// Edit and delete emojis, stickers and sounds.
        const MANAGE_GUILD_EXPRESSIONS = 1 << 30;
        /// Use application commands.
        const USE_APPLICATION_COMMANDS = 1 << 31;
        /// Request to speak in a stage channel.
        const REQUEST_TO_SPEAK = 1 << 32;
        /// Manage scheduled events.
        const MANAGE_EVENTS = 1 << 33;
        /// Manage threads.
        const MANAGE_THREADS = 1 << 34;
        /// Create public threads.
        const CREATE_PUBLIC_THREADS = 1 << 35;
        /// Create private threads.
        const CREATE_PRIVATE_THREADS = 1 << 36;
        /// Use stickers from other guilds.
        const USE_EXTERNAL_STICKERS = 1 << 37;
        /// Send messages in threads.
        const SEND_MESSAGES_IN_THREADS = 1 << 38;
        /// Use activities in voice.
        const USE_EMBEDDED_ACTIVITIES = 1 << 39;
        /// Time members out.
        const MODERATE_MEMBERS = 1 << 40;
        /// See monetization analytics.
        const VIEW_CREATOR_MONETIZATION_ANALYTICS = 1 << 41;
        /// Use the soundboard.
        const USE_SOUNDBOARD = 1 << 42;
        /// Create emojis, stickers and sounds.
        const CREATE_GUILD_EXPRESSIONS = 1 << 43;
        /// Create scheduled events.
        const CREATE_EVENTS = 1 << 44;
        /// Use sounds from other guilds.
        const USE_EXTERNAL_SOUNDS = 1 << 45;
        /// Send voice messages.
        const SEND_VOICE_MESSAGES = 1 << 46;
        /// Set a voice channel's status.
        const SET_VOICE_CHANNEL_STATUS = 1 << 48;
        /// Send polls.
        const SEND_POLLS = 1 << 49;
        /// Use external apps.
        const USE_EXTERNAL_APPS = 1 << 50;
        /// Pin messages.
        const PIN_MESSAGES = 1 << 51;
        /// Bypass slow mode.
        const BYPASS_SLOWMODE = 1 << 52;
    }
}

impl Permissions {
    /// What Discord gives @everyone in a new guild: view channels, send
    /// messages, read history, react, connect and speak, and the other
    /// everyday permissions; nothing administrative.
    pub const DEFAULT_EVERYONE: Permissions = Permissions::CREATE_INSTANT_INVITE
        .union(Permissions::ADD_REACTIONS)
        .union(Permissions::STREAM)
        .union(Permissions::VIEW_CHANNEL)
        .union(Permissions::SEND_MESSAGES)
        .union(Permissions::EMBED_LINKS)
        .union(Permissions::ATTACH_FILES)
        .union(Permissions::READ_MESSAGE_HISTORY)
        .union(Permissions::MENTION_EVERYONE)
        .union(Permissions::USE_EXTERNAL_EMOJIS)
        .union(Permissions::CONNECT)
        .union(Permissions::SPEAK)
        .union(Permissions::USE_VAD)
        .union(Permissions::CHANGE_NICKNAME)
        .union(Permissions::USE_APPLICATION_COMMANDS)
        .union(Permissions::REQUEST_TO_SPEAK)
        .union(Permissions::CREATE_PUBLIC_THREADS)
        .union(Permissions::CREATE_PRIVATE_THREADS)
        .union(Permissions::USE_EXTERNAL_STICKERS)
        .union(Permissions::SEND_MESSAGES_IN_THREADS)
        .union(Permissions::USE_EMBEDDED_ACTIVITIES)
        .union(Permissions::USE_SOUNDBOARD)
        .union(Permissions::USE_EXTERNAL_SOUNDS)
        .union(Permissions::SEND_VOICE_MESSAGES)
        .union(Permissions::SEND_POLLS)
        .union(Permissions::USE_EXTERNAL_APPS);

    /// What a member without SEND_MESSAGES implicitly loses in a channel.
    pub const IMPLIED_BY_SEND_MESSAGES: Permissions = Permissions::MENTION_EVERYONE
        .union(Permissions::SEND_TTS_MESSAGES)
        .union(Permissions::ATTACH_FILES)
        .union(Permissions::EMBED_LINKS);

    /// What a timed-out member keeps.
    pub const TIMED_OUT_ALLOWED: Permissions =
        Permissions::VIEW_CHANNEL.union(Permissions::READ_MESSAGE_HISTORY);
}

impl fmt::Display for Permissions {
    /// The decimal integer, as Discord writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.bits())
    }
}

impl Serialize for Permissions {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.bits())
    }
}

impl<'de> Deserialize<'de> for Permissions {
    /// Reads the string form, and also a bare integer (older API versions).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Permissions;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a permission integer as a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Permissions, E> {
                v.parse::<u64>()
                    .map(Permissions::from_bits_retain)
                    .map_err(|_| E::custom(format_args!("invalid permissions string {v:?}")))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Permissions, E> {
                Ok(Permissions::from_bits_retain(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Permissions, E> {
                u64::try_from(v)
                    .map(Permissions::from_bits_retain)
                    .map_err(|_| E::custom("permissions cannot be negative"))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// A guild member's permissions: the inputs of Discord's algorithm and its
/// two results, [`guild`](MemberPermissions::guild) and
/// [`channel`](MemberPermissions::channel).
///
/// ```
/// use discord_proto::Permissions;
/// use discord_proto::model::{ChannelType, OverwriteType, PermissionOverwrite, Role};
/// use discord_proto::permissions::MemberPermissions;
/// use discord_proto::Snowflake;
///
/// let guild = Snowflake::new(100);
/// let everyone = Role::new(guild, "@everyone", Permissions::VIEW_CHANNEL | Permissions::SEND_MESSAGES);
/// let roles = [everyone];
/// // The channel hides itself from @everyone.
/// let overwrites = [PermissionOverwrite {
///     id: guild,
///     kind: OverwriteType::Role,
///     allow: Permissions::empty(),
///     deny: Permissions::VIEW_CHANNEL,
/// }];
/// let member = MemberPermissions::new(guild, Snowflake::new(1), &roles, Snowflake::new(2), &[]);
/// assert!(member.guild().contains(Permissions::VIEW_CHANNEL));
/// assert!(member.channel(ChannelType::GuildText, &overwrites).is_empty());
/// ```
#[derive(Clone, Copy, Debug)]
pub struct MemberPermissions<'a> {
    guild_id: Snowflake,
    owner_id: Snowflake,
    roles: &'a [Role],
    member_id: Snowflake,
    member_roles: &'a [Snowflake],
    timed_out: bool,
}

impl<'a> MemberPermissions<'a> {
    /// The member `member_id` with roles `member_roles` in the guild
    /// `guild_id` owned by `owner_id`, whose roles (including @everyone, the
    /// role with the guild's ID) are `roles`. Role IDs not found in `roles`
    /// are ignored.
    pub fn new(
        guild_id: Snowflake,
        owner_id: Snowflake,
        roles: &'a [Role],
        member_id: Snowflake,
        member_roles: &'a [Snowflake],
    ) -> Self {
        MemberPermissions {
            guild_id,
            owner_id,
            roles,
            member_id,
            member_roles,
            timed_out: false,
        }
    }

    /// Marks the member as timed out (its `communication_disabled_until` is
    /// in the future).
    pub fn timed_out(mut self, timed_out: bool) -> Self {
        self.timed_out = timed_out;
        self
    }

    fn role(&self, id: Snowflake) -> Option<&'a Role> {
        self.roles.iter().find(|r| r.id == id)
    }

    fn is_owner(&self) -> bool {
        self.member_id == self.owner_id
    }

    /// The permissions from roles alone, before the owner and administrator
    /// rules and timeouts.
    fn role_union(&self) -> Permissions {
        let everyone = self
            .role(self.guild_id)
            .map_or(Permissions::empty(), |r| r.permissions);
        self.member_roles
            .iter()
            .filter_map(|id| self.role(*id))
            .fold(everyone, |acc, r| acc | r.permissions)
    }

    /// Whether the member is exempt from overwrites and timeouts (owner or
    /// administrator).
    pub fn is_administrator(&self) -> bool {
        self.is_owner() || self.role_union().contains(Permissions::ADMINISTRATOR)
    }

    /// The member's permissions in the guild, ignoring channels.
    pub fn guild(&self) -> Permissions {
        if self.is_administrator() {
            return Permissions::all();
        }
        let perms = self.role_union();
        if self.timed_out {
            perms & Permissions::TIMED_OUT_ALLOWED
        } else {
            perms
        }
    }

    /// The member's permissions in a channel of `kind` with `overwrites`,
    /// with the implicit rules applied.
    pub fn channel(&self, kind: ChannelType, overwrites: &[PermissionOverwrite]) -> Permissions {
        if self.is_administrator() {
            return Permissions::all();
        }
        let mut perms = self.role_union();

        // @everyone's overwrite.
        if let Some(o) = overwrites
            .iter()
            .find(|o| o.kind == OverwriteType::Role && o.id == self.guild_id)
        {
            perms = (perms & !o.deny) | o.allow;
        }
        // The member's roles' overwrites, together.
        let (mut deny, mut allow) = (Permissions::empty(), Permissions::empty());
        for o in overwrites.iter().filter(|o| {
            o.kind == OverwriteType::Role
                && o.id != self.guild_id
                && self.member_roles.contains(&o.id)
        }) {
            deny |= o.deny;
            allow |= o.allow;
        }
        perms = (perms & !deny) | allow;
        // The member's own overwrite.
        if let Some(o) = overwrites
            .iter()
            .find(|o| o.kind == OverwriteType::Member && o.id == self.member_id)
        {
            perms = (perms & !o.deny) | o.allow;
        }

        if self.timed_out {
            perms &= Permissions::TIMED_OUT_ALLOWED;
        }
        apply_implicit(perms, kind)
    }
}

/// The implicit rules of step 3 (see the module docs) for a channel of `kind`.
pub fn apply_implicit(mut perms: Permissions, kind: ChannelType) -> Permissions {
    if !perms.contains(Permissions::VIEW_CHANNEL) {
        return Permissions::empty();
    }
    if kind.is_voice() && !perms.contains(Permissions::CONNECT) {
        return Permissions::VIEW_CHANNEL;
    }
    if kind.is_text_based() && !perms.contains(Permissions::SEND_MESSAGES) {
        perms &= !Permissions::IMPLIED_BY_SEND_MESSAGES;
    }
    perms
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUILD: Snowflake = Snowflake::new(1000);
    const OWNER: Snowflake = Snowflake::new(1);
    const ALICE: Snowflake = Snowflake::new(2);
    const MODS: Snowflake = Snowflake::new(10);
    const MUTED: Snowflake = Snowflake::new(11);
    const ADMINS: Snowflake = Snowflake::new(12);

    type P = Permissions;

    fn roles(everyone: P) -> Vec<Role> {
        vec![
            Role::new(GUILD, "@everyone", everyone),
            Role::new(MODS, "mods", P::MANAGE_MESSAGES | P::KICK_MEMBERS),
            Role::new(MUTED, "muted", P::empty()),
            Role::new(ADMINS, "admins", P::ADMINISTRATOR),
        ]
    }

    fn role_ow(id: Snowflake, allow: P, deny: P) -> PermissionOverwrite {
        PermissionOverwrite {
            id,
            kind: OverwriteType::Role,
            allow,
            deny,
        }
    }

    fn member_ow(id: Snowflake, allow: P, deny: P) -> PermissionOverwrite {
        PermissionOverwrite {
            id,
            kind: OverwriteType::Member,
            allow,
            deny,
        }
    }

    #[test]
    fn serialized_as_a_string_read_from_string_or_integer() {
        let p = P::VIEW_CHANNEL | P::SEND_MESSAGES;
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"3072\"");
        assert_eq!(serde_json::from_str::<P>("\"3072\"").unwrap(), p);
        assert_eq!(serde_json::from_str::<P>("3072").unwrap(), p);
        assert!(serde_json::from_str::<P>("\"abc\"").is_err());
        assert!(serde_json::from_str::<P>("-1").is_err());
        // Unknown bits survive a round trip.
        let unknown = serde_json::from_str::<P>("\"9007199254740992\"").unwrap();
        assert_eq!(unknown.bits(), 1 << 53);
        assert_eq!(
            serde_json::to_string(&unknown).unwrap(),
            "\"9007199254740992\""
        );
    }

    #[test]
    fn bit_values_match_the_documented_table() {
        let table = [
            (P::CREATE_INSTANT_INVITE, 0x1),
            (P::ADMINISTRATOR, 0x8),
            (P::VIEW_CHANNEL, 0x400),
            (P::SEND_MESSAGES, 0x800),
            (P::MANAGE_MESSAGES, 0x2000),
            (P::READ_MESSAGE_HISTORY, 0x1_0000),
            (P::CONNECT, 0x10_0000),
            (P::MANAGE_ROLES, 0x1000_0000),
            (P::REQUEST_TO_SPEAK, 0x1_0000_0000),
            (P::MODERATE_MEMBERS, 0x100_0000_0000),
            (P::SEND_VOICE_MESSAGES, 0x4000_0000_0000),
            (P::SET_VOICE_CHANNEL_STATUS, 0x1_0000_0000_0000),
            (P::BYPASS_SLOWMODE, 0x10_0000_0000_0000),
        ];
        for (p, bits) in table {
            assert_eq!(p.bits(), bits, "{p:?}");
        }
        // 1 << 47 is not assigned.
        assert!(!P::all().contains(P::from_bits_retain(1 << 47)));
    }

    /// One row of the table-driven tests: inputs and the expected permissions
    /// in a text channel.
    struct Case {
        name: &'static str,
        everyone: P,
        member: Snowflake,
        member_roles: &'static [Snowflake],
        overwrites: Vec<PermissionOverwrite>,
        timed_out: bool,
        kind: ChannelType,
        expect_guild: P,
        expect_channel: P,
    }

    #[test]
    fn documented_algorithm_table() {
        let base = P::VIEW_CHANNEL | P::SEND_MESSAGES | P::READ_MESSAGE_HISTORY;
        let text = ChannelType::GuildText;
        let cases = vec![
            Case {
                name: "owner has everything, overwrites ignored",
                everyone: P::empty(),
                member: OWNER,
                member_roles: &[],
                overwrites: vec![role_ow(GUILD, P::empty(), P::VIEW_CHANNEL)],
                timed_out: true,
                kind: text,
                expect_guild: P::all(),
                expect_channel: P::all(),
            },
            Case {
                name: "@everyone alone",
                everyone: base,
                member: ALICE,
                member_roles: &[],
                overwrites: vec![],
                timed_out: false,
                kind: text,
                expect_guild: base,
                expect_channel: base,
            },
            Case {
                name: "roles are ORed onto @everyone",
                everyone: base,
                member: ALICE,
                member_roles: &[MODS],
                overwrites: vec![],
                timed_out: false,
                kind: text,
                expect_guild: base | P::MANAGE_MESSAGES | P::KICK_MEMBERS,
                expect_channel: base | P::MANAGE_MESSAGES | P::KICK_MEMBERS,
            },
            Case {
                name: "administrator role gives everything and skips overwrites",
                everyone: base,
                member: ALICE,
                member_roles: &[ADMINS],
                overwrites: vec![member_ow(ALICE, P::empty(), P::all())],
                timed_out: false,
                kind: text,
                expect_guild: P::all(),
                expect_channel: P::all(),
            },
            Case {
                name: "@everyone overwrite denies sending",
                everyone: base,
                member: ALICE,
                member_roles: &[],
                overwrites: vec![role_ow(GUILD, P::empty(), P::SEND_MESSAGES)],
                timed_out: false,
                kind: text,
                expect_guild: base,
                expect_channel: P::VIEW_CHANNEL | P::READ_MESSAGE_HISTORY,
            },
            Case {
                name: "role allow beats @everyone deny",
                everyone: base,
                member: ALICE,
                member_roles: &[MODS],
                overwrites: vec![
                    role_ow(GUILD, P::empty(), P::SEND_MESSAGES),
                    role_ow(MODS, P::SEND_MESSAGES, P::empty()),
                ],
                timed_out: false,
                kind: text,
                expect_guild: base | P::MANAGE_MESSAGES | P::KICK_MEMBERS,
                expect_channel: base | P::MANAGE_MESSAGES | P::KICK_MEMBERS,
            },
            Case {
                name: "role overwrites combine: allow from one role beats deny from another",
                everyone: base,
                member: ALICE,
                member_roles: &[MODS, MUTED],
                overwrites: vec![
                    role_ow(MUTED, P::empty(), P::SEND_MESSAGES),
                    role_ow(MODS, P::SEND_MESSAGES, P::empty()),
                ],
                timed_out: false,
                kind: text,
                expect_guild: base | P::MANAGE_MESSAGES | P::KICK_MEMBERS,
                expect_channel: base | P::MANAGE_MESSAGES | P::KICK_MEMBERS,
            },
            Case {
                name: "overwrites for roles the member lacks do not apply",
                everyone: base,
                member: ALICE,
                member_roles: &[],
                overwrites: vec![role_ow(MUTED, P::empty(), P::SEND_MESSAGES)],
                timed_out: false,
                kind: text,
                expect_guild: base,
                expect_channel: base,
            },
            Case {
                name: "member overwrite comes last",
                everyone: base,
                member: ALICE,
                member_roles: &[MODS],
                overwrites: vec![
                    role_ow(MODS, P::ATTACH_FILES, P::empty()),
                    member_ow(ALICE, P::empty(), P::ATTACH_FILES | P::MANAGE_MESSAGES),
                ],
                timed_out: false,
                kind: text,
                expect_guild: base | P::MANAGE_MESSAGES | P::KICK_MEMBERS,
                expect_channel: base | P::KICK_MEMBERS,
            },
            Case {
                name: "member overwrite can grant view to a hidden channel",
                everyone: base,
                member: ALICE,
                member_roles: &[],
                overwrites: vec![
                    role_ow(GUILD, P::empty(), P::VIEW_CHANNEL),
                    member_ow(ALICE, P::VIEW_CHANNEL, P::empty()),
                ],
                timed_out: false,
                kind: text,
                expect_guild: base,
                expect_channel: base,
            },
            Case {
                name: "no VIEW_CHANNEL means nothing in the channel",
                everyone: base | P::MANAGE_CHANNELS,
                member: ALICE,
                member_roles: &[],
                overwrites: vec![role_ow(GUILD, P::empty(), P::VIEW_CHANNEL)],
                timed_out: false,
                kind: text,
                expect_guild: base | P::MANAGE_CHANNELS,
                expect_channel: P::empty(),
            },
            Case {
                name: "no SEND_MESSAGES implicitly denies mention-everyone, TTS, files and embeds",
                everyone: P::VIEW_CHANNEL | P::IMPLIED_BY_SEND_MESSAGES | P::ADD_REACTIONS,
                member: ALICE,
                member_roles: &[],
                overwrites: vec![],
                timed_out: false,
                kind: text,
                expect_guild: P::VIEW_CHANNEL | P::IMPLIED_BY_SEND_MESSAGES | P::ADD_REACTIONS,
                expect_channel: P::VIEW_CHANNEL | P::ADD_REACTIONS,
            },
            Case {
                name: "voice channel without CONNECT keeps only VIEW_CHANNEL",
                everyone: base | P::SPEAK | P::MANAGE_CHANNELS,
                member: ALICE,
                member_roles: &[],
                overwrites: vec![],
                timed_out: false,
                kind: ChannelType::GuildVoice,
                expect_guild: base | P::SPEAK | P::MANAGE_CHANNELS,
                expect_channel: P::VIEW_CHANNEL,
            },
            Case {
                name: "timed-out member keeps only view and history",
                everyone: base | P::ADD_REACTIONS,
                member: ALICE,
                member_roles: &[MODS],
                overwrites: vec![],
                timed_out: true,
                kind: text,
                expect_guild: P::VIEW_CHANNEL | P::READ_MESSAGE_HISTORY,
                expect_channel: P::VIEW_CHANNEL | P::READ_MESSAGE_HISTORY,
            },
            Case {
                name: "timed-out administrator is exempt",
                everyone: base,
                member: ALICE,
                member_roles: &[ADMINS],
                overwrites: vec![],
                timed_out: true,
                kind: text,
                expect_guild: P::all(),
                expect_channel: P::all(),
            },
        ];
        for case in cases {
            let roles = roles(case.everyone);
            let member =
                MemberPermissions::new(GUILD, OWNER, &roles, case.member, case.member_roles)
                    .timed_out(case.timed_out);
            assert_eq!(member.guild(), case.expect_guild, "guild: {}", case.name);
            assert_eq!(
                member.channel(case.kind, &case.overwrites),
                case.expect_channel,
                "channel: {}",
                case.name
            );
        }
    }

    #[test]
    fn unknown_role_ids_are_ignored() {
        let roles = roles(P::VIEW_CHANNEL);
        let ghost = [Snowflake::new(999)];
        let member = MemberPermissions::new(GUILD, OWNER, &roles, ALICE, &ghost);
        assert_eq!(member.guild(), P::VIEW_CHANNEL);
    }
}
