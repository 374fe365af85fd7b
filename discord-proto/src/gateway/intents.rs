//! Gateway intents: which groups of events a session asks to receive.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

bitflags::bitflags! {
    /// The `intents` of an IDENTIFY, written in JSON as an integer.
    ///
    /// Decoding keeps bits this crate does not define, so that a server can
    /// tell an undefined intent (close code 4013) from a missing one:
    /// [`Intents::is_valid`].
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct Intents: u64 {
        /// Guild, role, channel, thread and stage instance events.
        const GUILDS = 1 << 0;
        /// Member add, update and remove (privileged).
        const GUILD_MEMBERS = 1 << 1;
        /// Audit log entries and bans.
        const GUILD_MODERATION = 1 << 2;
        /// Emoji, sticker and soundboard updates.
        const GUILD_EXPRESSIONS = 1 << 3;
        /// Integration events.
        const GUILD_INTEGRATIONS = 1 << 4;
        /// Webhook updates.
        const GUILD_WEBHOOKS = 1 << 5;
        /// Invite create and delete.
        const GUILD_INVITES = 1 << 6;
        /// Voice state updates.
        const GUILD_VOICE_STATES = 1 << 7;
        /// Presence updates (privileged).
        const GUILD_PRESENCES = 1 << 8;
        /// Messages in guilds.
        const GUILD_MESSAGES = 1 << 9;
        /// Reactions in guilds.
        const GUILD_MESSAGE_REACTIONS = 1 << 10;
        /// Typing in guilds.
        const GUILD_MESSAGE_TYPING = 1 << 11;
        /// Messages in DMs.
        const DIRECT_MESSAGES = 1 << 12;
        /// Reactions in DMs.
        const DIRECT_MESSAGE_REACTIONS = 1 << 13;
        /// Typing in DMs.
        const DIRECT_MESSAGE_TYPING = 1 << 14;
        /// Message content, embeds, attachments and components (privileged).
        const MESSAGE_CONTENT = 1 << 15;
        /// Scheduled events.
        const GUILD_SCHEDULED_EVENTS = 1 << 16;
        /// Auto moderation rules.
        const AUTO_MODERATION_CONFIGURATION = 1 << 20;
        /// Auto moderation actions.
        const AUTO_MODERATION_EXECUTION = 1 << 21;
        /// Poll votes in guilds.
        const GUILD_MESSAGE_POLLS = 1 << 24;
        /// Poll votes in DMs.
        const DIRECT_MESSAGE_POLLS = 1 << 25;
    }
}

impl Intents {
    /// The intents an application must be allowed before it may ask for them
    /// (otherwise close code 4014).
    pub const PRIVILEGED: Intents = Intents::GUILD_MEMBERS
        .union(Intents::GUILD_PRESENCES)
        .union(Intents::MESSAGE_CONTENT);

    /// Whether every set bit is a defined intent.
    pub const fn is_valid(self) -> bool {
        Intents::from_bits(self.bits()).is_some()
    }

    /// Whether a session with these intents receives the dispatch event
    /// `name`; `in_guild` says whether the event happened in a guild (as
    /// opposed to a DM). Events that need no intent (READY, RESUMED,
    /// GUILD_MEMBERS_CHUNK, VOICE_SERVER_UPDATE, USER_UPDATE, and events this
    /// crate does not map) are always received.
    pub fn receives(self, name: &str, in_guild: bool) -> bool {
        match Intents::required_for(name, in_guild) {
            Some(needed) => self.intersects(needed),
            None => true,
        }
    }

    /// The intent that gates the dispatch event `name`, or `None` if it is
    /// always sent.
    pub fn required_for(name: &str, in_guild: bool) -> Option<Intents> {
        let (guild, dm) = match name {
            "GUILD_CREATE"
            | "GUILD_UPDATE"
            | "GUILD_DELETE"
            | "GUILD_ROLE_CREATE"
            | "GUILD_ROLE_UPDATE"
            | "GUILD_ROLE_DELETE"
            | "CHANNEL_CREATE"
            | "CHANNEL_UPDATE"
            | "CHANNEL_DELETE"
            | "THREAD_CREATE"
            | "THREAD_UPDATE"
            | "THREAD_DELETE"
            | "THREAD_LIST_SYNC"
            | "THREAD_MEMBER_UPDATE"
            | "STAGE_INSTANCE_CREATE"
            | "STAGE_INSTANCE_UPDATE"
            | "STAGE_INSTANCE_DELETE" => (Intents::GUILDS, Intents::GUILDS),
            "CHANNEL_PINS_UPDATE" => (Intents::GUILDS, Intents::DIRECT_MESSAGES),
            "GUILD_MEMBER_ADD" | "GUILD_MEMBER_UPDATE" | "GUILD_MEMBER_REMOVE" => {
                (Intents::GUILD_MEMBERS, Intents::GUILD_MEMBERS)
            }
            "THREAD_MEMBERS_UPDATE" => (
                Intents::GUILDS | Intents::GUILD_MEMBERS,
                Intents::GUILDS | Intents::GUILD_MEMBERS,
            ),
            "GUILD_AUDIT_LOG_ENTRY_CREATE" | "GUILD_BAN_ADD" | "GUILD_BAN_REMOVE" => {
                (Intents::GUILD_MODERATION, Intents::GUILD_MODERATION)
            }
            "GUILD_EMOJIS_UPDATE" | "GUILD_STICKERS_UPDATE" => {
                (Intents::GUILD_EXPRESSIONS, Intents::GUILD_EXPRESSIONS)
            }
            "GUILD_INTEGRATIONS_UPDATE"
            | "INTEGRATION_CREATE"
            | "INTEGRATION_UPDATE"
            | "INTEGRATION_DELETE" => (Intents::GUILD_INTEGRATIONS, Intents::GUILD_INTEGRATIONS),
            "WEBHOOKS_UPDATE" => (Intents::GUILD_WEBHOOKS, Intents::GUILD_WEBHOOKS),
            "INVITE_CREATE" | "INVITE_DELETE" => (Intents::GUILD_INVITES, Intents::GUILD_INVITES),
            "VOICE_STATE_UPDATE" => (Intents::GUILD_VOICE_STATES, Intents::GUILD_VOICE_STATES),
            "PRESENCE_UPDATE" => (Intents::GUILD_PRESENCES, Intents::GUILD_PRESENCES),
            "MESSAGE_CREATE" | "MESSAGE_UPDATE" | "MESSAGE_DELETE" => {
                (Intents::GUILD_MESSAGES, Intents::DIRECT_MESSAGES)
            }
            "MESSAGE_DELETE_BULK" => (Intents::GUILD_MESSAGES, Intents::GUILD_MESSAGES),
            "MESSAGE_REACTION_ADD"
            | "MESSAGE_REACTION_REMOVE"
            | "MESSAGE_REACTION_REMOVE_ALL"
            | "MESSAGE_REACTION_REMOVE_EMOJI" => (
                Intents::GUILD_MESSAGE_REACTIONS,
                Intents::DIRECT_MESSAGE_REACTIONS,
            ),
            "TYPING_START" => (
                Intents::GUILD_MESSAGE_TYPING,
                Intents::DIRECT_MESSAGE_TYPING,
            ),
            "GUILD_SCHEDULED_EVENT_CREATE"
            | "GUILD_SCHEDULED_EVENT_UPDATE"
            | "GUILD_SCHEDULED_EVENT_DELETE"
            | "GUILD_SCHEDULED_EVENT_USER_ADD"
            | "GUILD_SCHEDULED_EVENT_USER_REMOVE" => (
                Intents::GUILD_SCHEDULED_EVENTS,
                Intents::GUILD_SCHEDULED_EVENTS,
            ),
            "MESSAGE_POLL_VOTE_ADD" | "MESSAGE_POLL_VOTE_REMOVE" => {
                (Intents::GUILD_MESSAGE_POLLS, Intents::DIRECT_MESSAGE_POLLS)
            }
            _ => return None,
        };
        Some(if in_guild { guild } else { dm })
    }
}

impl Serialize for Intents {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.bits())
    }
}

impl<'de> Deserialize<'de> for Intents {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        u64::deserialize(deserializer).map(Intents::from_bits_retain)
    }
}

impl fmt::Display for Intents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.bits())
    }
}

#[cfg(test)]
mod tests {
    use super::Intents;

    #[test]
    fn integer_on_the_wire_and_undefined_bits_kept() {
        let i = Intents::GUILDS | Intents::GUILD_MESSAGES | Intents::MESSAGE_CONTENT;
        assert_eq!(
            serde_json::to_string(&i).unwrap(),
            (1 + 512 + 32768).to_string()
        );
        assert_eq!(serde_json::from_str::<Intents>("33281").unwrap(), i);
        assert!(i.is_valid());
        let bad = serde_json::from_str::<Intents>(&(1u64 << 17).to_string()).unwrap();
        assert!(!bad.is_valid());
        assert!(serde_json::from_str::<Intents>("\"513\"").is_err());
    }

    #[test]
    fn documented_bits() {
        assert_eq!(Intents::all().bits(), 0b11_0011_0001_1111_1111_1111_1111);
        assert_eq!(Intents::PRIVILEGED.bits(), (1 << 1) | (1 << 8) | (1 << 15));
    }

    #[test]
    fn event_gating_distinguishes_guilds_and_dms() {
        let guild_msgs = Intents::GUILD_MESSAGES;
        assert!(guild_msgs.receives("MESSAGE_CREATE", true));
        assert!(!guild_msgs.receives("MESSAGE_CREATE", false));
        assert!(Intents::DIRECT_MESSAGES.receives("MESSAGE_CREATE", false));
        assert!(!Intents::GUILDS.receives("PRESENCE_UPDATE", true));
        assert!(Intents::empty().receives("READY", false));
        assert!(Intents::empty().receives("GUILD_MEMBERS_CHUNK", true));
        assert!(Intents::empty().receives("SOME_FUTURE_EVENT", true));
        assert!(!Intents::empty().receives("GUILD_CREATE", true));
        assert!(Intents::GUILD_MEMBERS.receives("THREAD_MEMBERS_UPDATE", true));
    }
}
