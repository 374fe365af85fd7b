//! Who is in which voice channel, and the short-lived tokens that let a
//! gateway session's user into the SFU. Plain data, no I/O.

use std::collections::HashMap;
use std::time::Instant;

use discord_proto::Snowflake;
use discord_proto::model::VoiceState;

/// What a VOICE_SERVER_UPDATE token entitles its holder to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The guild.
    pub guild_id: Snowflake,
    /// The channel.
    pub channel_id: Snowflake,
    /// The user.
    pub user_id: Snowflake,
    /// The gateway session that joined.
    pub session_id: String,
    /// Until when IDENTIFY may use the token.
    pub expires: Instant,
}

/// How a voice state changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The user joined a channel (or moved from `from`).
    Joined {
        /// The channel left, when this was a move.
        from: Option<Snowflake>,
    },
    /// Only flags (mute, deafen) changed.
    Flags,
    /// The user left voice in the guild.
    Left {
        /// The channel left.
        from: Snowflake,
    },
    /// Nothing changed (leaving while not in voice, or the same state).
    None,
}

/// Voice states per guild and outstanding tokens.
#[derive(Debug, Default)]
pub struct Registry {
    states: HashMap<Snowflake, HashMap<Snowflake, VoiceState>>,
    grants: HashMap<String, Grant>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// The voice states in a guild (what GUILD_CREATE carries).
    pub fn guild_states(&self, guild_id: Snowflake) -> Vec<VoiceState> {
        self.states
            .get(&guild_id)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// One user's voice state in a guild.
    pub fn state(&self, guild_id: Snowflake, user_id: Snowflake) -> Option<&VoiceState> {
        self.states.get(&guild_id)?.get(&user_id)
    }

    /// Users in a channel.
    pub fn channel_count(&self, guild_id: Snowflake, channel_id: Snowflake) -> usize {
        self.states.get(&guild_id).map_or(0, |m| {
            m.values()
                .filter(|s| s.channel_id == Some(channel_id))
                .count()
        })
    }

    /// Sets a user's state (joining, moving or changing flags) and says
    /// what changed. `state.channel_id` must be set.
    pub fn set(&mut self, guild_id: Snowflake, state: VoiceState) -> Change {
        let guild = self.states.entry(guild_id).or_default();
        let previous = guild.insert(state.user_id, state.clone());
        match previous {
            None => Change::Joined { from: None },
            Some(p) if p.channel_id != state.channel_id || p.session_id != state.session_id => {
                Change::Joined { from: p.channel_id }
            }
            Some(p) if p == state => Change::None,
            Some(_) => Change::Flags,
        }
    }
    /// Removes a user's state: they left voice in the guild. Returns the
    /// state they had, with `channel_id` cleared, ready to broadcast.
    pub fn leave(&mut self, guild_id: Snowflake, user_id: Snowflake) -> Option<VoiceState> {
        let guild = self.states.get_mut(&guild_id)?;
        let mut state = guild.remove(&user_id)?;
        if guild.is_empty() {
            self.states.remove(&guild_id);
        }
        self.grants
            .retain(|_, g| !(g.guild_id == guild_id && g.user_id == user_id));
        state.channel_id = None;
        Some(state)
    }

    /// Every guild in which a gateway session has a voice state.
    pub fn guilds_of_session(&self, session_id: &str) -> Vec<(Snowflake, Snowflake)> {
        self.states
            .iter()
            .flat_map(|(g, m)| {
                m.values()
                    .filter(|s| s.session_id == session_id)
                    .map(|s| (*g, s.user_id))
            })
            .collect()
    }

    /// Issues a new token for a grant (replacing the user's earlier ones in
    /// that guild) and returns it.
    pub fn issue(&mut self, grant: Grant) -> String {
        self.grants
            .retain(|_, g| !(g.guild_id == grant.guild_id && g.user_id == grant.user_id));
        let token = format!("{:032x}", rand::random::<u128>());
        self.grants.insert(token.clone(), grant);
        token
    }

    /// The grant behind a token, if it exists, has not expired at `now`
    /// and its user is still in the grant's channel.
    pub fn grant(&self, token: &str, now: Instant) -> Option<&Grant> {
        let grant = self.grants.get(token)?;
        if grant.expires < now {
            return None;
        }
        let state = self.state(grant.guild_id, grant.user_id)?;
        (state.channel_id == Some(grant.channel_id) && state.session_id == grant.session_id)
            .then_some(grant)
    }

    /// Extends a used token's life so RESUME keeps working while the user
    /// stays in the channel.
    pub fn extend(&mut self, token: &str, until: Instant) {
        if let Some(g) = self.grants.get_mut(token) {
            g.expires = g.expires.max(until);
        }
    }

    /// Drops expired tokens.
    pub fn sweep(&mut self, now: Instant) {
        self.grants.retain(|_, g| g.expires >= now);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn state(user: u64, channel: u64) -> VoiceState {
        VoiceState {
            guild_id: Some(Snowflake::new(1)),
            channel_id: Some(Snowflake::new(channel)),
            user_id: Snowflake::new(user),
            member: None,
            session_id: format!("s{user}"),
            deaf: false,
            mute: false,
            self_deaf: false,
            self_mute: false,
            self_stream: None,
            self_video: false,
            suppress: false,
            request_to_speak_timestamp: None,
        }
    }

    const G: Snowflake = Snowflake::new(1);

    #[test]
    fn joins_moves_flag_changes_and_leaves_are_told_apart() {
        let mut r = Registry::new();
        assert_eq!(r.set(G, state(5, 10)), Change::Joined { from: None });
        assert_eq!(r.set(G, state(5, 10)), Change::None);
        let mut muted = state(5, 10);
        muted.self_mute = true;
        assert_eq!(r.set(G, muted), Change::Flags);
        assert_eq!(
            r.set(G, state(5, 11)),
            Change::Joined {
                from: Some(Snowflake::new(10))
            }
        );
        assert_eq!(r.channel_count(G, Snowflake::new(11)), 1);
        assert_eq!(r.channel_count(G, Snowflake::new(10)), 0);
        let left = r.leave(G, Snowflake::new(5)).unwrap();
        assert_eq!(left.channel_id, None);
        assert!(r.guild_states(G).is_empty());
        assert!(r.leave(G, Snowflake::new(5)).is_none());
    }

    #[test]
    fn a_token_is_good_only_for_its_user_in_its_channel_until_it_expires() {
        let mut r = Registry::new();
        let now = Instant::now();
        r.set(G, state(5, 10));
        let grant = Grant {
            guild_id: G,
            channel_id: Snowflake::new(10),
            user_id: Snowflake::new(5),
            session_id: "s5".into(),
            expires: now + Duration::from_secs(60),
        };
        let token = r.issue(grant.clone());
        assert_eq!(r.grant(&token, now), Some(&grant));
        assert_eq!(r.grant("nope", now), None);
        assert_eq!(r.grant(&token, now + Duration::from_secs(61)), None);
        // Moving away makes the old channel's token useless.
        r.set(G, state(5, 11));
        assert_eq!(r.grant(&token, now), None);
        // A new token replaces the user's earlier one.
        let again = r.issue(Grant {
            channel_id: Snowflake::new(11),
            ..grant.clone()
        });
        assert_ne!(again, token);
        assert!(r.grant(&again, now).is_some());
        // Leaving revokes it.
        r.leave(G, Snowflake::new(5));
        assert_eq!(r.grant(&again, now), None);
    }

    #[test]
    fn sessions_are_found_in_every_guild() {
        let mut r = Registry::new();
        r.set(G, state(5, 10));
        r.set(Snowflake::new(2), state(5, 20));
        let mut found = r.guilds_of_session("s5");
        found.sort();
        assert_eq!(found.len(), 2);
        assert!(r.guilds_of_session("s6").is_empty());
    }
}
