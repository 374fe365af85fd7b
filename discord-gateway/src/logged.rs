//! Replay-log entries: what a session's log keeps of each dispatch it was
//! sent, in the session store (in memory or Redis), keyed by the dispatch's
//! sequence number.
//!
//! An entry is `<event ID, 16 hex digits><name> <data>`. It holds no
//! sequence number, so it is the same for every session that receives one
//! view of an event: fanout makes it once, every recipient's log shares it
//! (an in-memory store keeps one copy, not one per session), and a RESUME
//! makes the frame again from the entry and its sequence number.
//!
//! An IDENTIFY's GUILD_CREATE is `<0 as 16 hex digits>~GUILD_CREATE <guild
//! ID> <large threshold>` instead: that frame is the largest a session
//! sends and is made for that session alone, so the log keeps how to make
//! it again rather than a copy of it for as long as the session lives.

use std::fmt::Write;
use std::sync::Arc;

use discord_proto::Snowflake;

/// What an entry says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Logged<'a> {
    /// A dispatch: its event ID (0: none), name and data.
    Dispatch {
        id: u64,
        name: &'a str,
        data: &'a str,
    },
    /// An IDENTIFY's GUILD_CREATE, to be made again.
    GuildCreate { guild: Snowflake, threshold: usize },
}

/// Where a [`GUILD_CREATE_ENTRY`] starts after the event ID (names are
/// upper-case, so no dispatch entry starts with `~`).
const GUILD_CREATE_ENTRY: &str = "~GUILD_CREATE ";

/// Digits of the event ID that starts every entry (the name starts here).
pub(crate) const ID_DIGITS: usize = 16;

/// The entry of a dispatch named `name` (an event name: no spaces).
pub(crate) fn dispatch(id: u64, name: &str, data: &str) -> String {
    let mut entry = String::with_capacity(ID_DIGITS + name.len() + 1 + data.len());
    // Into the entry itself, not through a String of its own.
    let _ = write!(entry, "{id:016x}");
    entry.push_str(name);
    entry.push(' ');
    entry.push_str(data);
    entry
}

/// Where the data starts in a [`dispatch`] entry for an event named `name`.
pub(crate) fn data_offset(name: &str) -> usize {
    ID_DIGITS + name.len() + 1
}

/// The entry of an IDENTIFY's GUILD_CREATE.
pub(crate) fn guild_create(guild: Snowflake, threshold: usize) -> Arc<str> {
    format!("{:016x}{GUILD_CREATE_ENTRY}{guild} {threshold}", 0).into()
}

/// Reads an entry; `None` if it is not one this module made.
pub(crate) fn parse(entry: &str) -> Option<Logged<'_>> {
    let id = u64::from_str_radix(entry.get(..ID_DIGITS)?, 16).ok()?;
    let rest = entry.get(ID_DIGITS..)?;
    if let Some(guild) = rest.strip_prefix(GUILD_CREATE_ENTRY) {
        let (guild, threshold) = guild.split_once(' ')?;
        return Some(Logged::GuildCreate {
            guild: guild.parse().ok()?,
            threshold: threshold.parse().ok()?,
        });
    }
    let (name, data) = rest.split_once(' ')?;
    Some(Logged::Dispatch { id, name, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        let data = r#"{"content":"a b ~GUILD_CREATE 1 2","id":"5"}"#;
        let entry = dispatch(u64::MAX - 3, "MESSAGE_CREATE", data);
        assert_eq!(&entry[data_offset("MESSAGE_CREATE")..], data);
        assert_eq!(
            &entry[ID_DIGITS..data_offset("MESSAGE_CREATE") - 1],
            "MESSAGE_CREATE"
        );
        assert_eq!(
            parse(&entry),
            Some(Logged::Dispatch {
                id: u64::MAX - 3,
                name: "MESSAGE_CREATE",
                data
            })
        );
        assert_eq!(
            parse(&guild_create(Snowflake::new(81_234), 250)),
            Some(Logged::GuildCreate {
                guild: Snowflake::new(81_234),
                threshold: 250
            })
        );
        // A dispatch named GUILD_CREATE is a dispatch, not the special entry.
        let entry = dispatch(9, "GUILD_CREATE", "{}");
        assert!(matches!(
            parse(&entry),
            Some(Logged::Dispatch {
                id: 9,
                name: "GUILD_CREATE",
                ..
            })
        ));
        assert_eq!(parse("short"), None);
        assert_eq!(parse("zzzzzzzzzzzzzzzzREADY {}"), None);
    }
}
