//! Voice states in a map per guild.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use discord_proto::Snowflake;
use discord_proto::model::VoiceState;

use crate::Result;
use crate::voice::{VoiceJoin, VoiceStateStore};

type Guilds = HashMap<Snowflake, HashMap<Snowflake, VoiceState>>;

/// Voice states in process memory.
#[derive(Debug, Default)]
pub struct MemoryVoiceStates {
    guilds: Mutex<Guilds>,
}

impl MemoryVoiceStates {
    /// No one in voice.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Guilds> {
        // Every update is a single insert or remove: poisoning cannot leave
        // the map half-changed.
        self.guilds.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl VoiceStateStore for MemoryVoiceStates {
    async fn join(
        &self,
        guild_id: Snowflake,
        state: &VoiceState,
        limit: usize,
    ) -> Result<VoiceJoin> {
        let mut guilds = self.lock();
        let guild = guilds.entry(guild_id).or_default();
        let here = guild
            .get(&state.user_id)
            .is_some_and(|s| s.channel_id == state.channel_id);
        if !here
            && guild
                .values()
                .filter(|s| s.channel_id == state.channel_id)
                .count()
                >= limit
        {
            if guild.is_empty() {
                guilds.remove(&guild_id);
            }
            return Ok(VoiceJoin::Full);
        }
        let previous = guild.insert(state.user_id, state.clone()).map(Box::new);
        Ok(VoiceJoin::Joined { previous })
    }

    async fn replace(
        &self,
        guild_id: Snowflake,
        expected: &VoiceState,
        new: &VoiceState,
    ) -> Result<bool> {
        let mut guilds = self.lock();
        let Some(slot) = guilds
            .get_mut(&guild_id)
            .and_then(|g| g.get_mut(&expected.user_id))
        else {
            return Ok(false);
        };
        if slot != expected {
            return Ok(false);
        }
        *slot = new.clone();
        Ok(true)
    }

    async fn leave(&self, guild_id: Snowflake, user_id: Snowflake) -> Result<Option<VoiceState>> {
        let mut guilds = self.lock();
        let Some(guild) = guilds.get_mut(&guild_id) else {
            return Ok(None);
        };
        let state = guild.remove(&user_id);
        if guild.is_empty() {
            guilds.remove(&guild_id);
        }
        Ok(state)
    }

    async fn get(&self, guild_id: Snowflake, user_id: Snowflake) -> Result<Option<VoiceState>> {
        Ok(self
            .lock()
            .get(&guild_id)
            .and_then(|g| g.get(&user_id))
            .cloned())
    }

    async fn guild(&self, guild_id: Snowflake) -> Result<Vec<VoiceState>> {
        Ok(self
            .lock()
            .get(&guild_id)
            .map(|g| g.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn of_session(&self, session_id: &str) -> Result<Vec<(Snowflake, Snowflake)>> {
        Ok(self
            .lock()
            .iter()
            .flat_map(|(g, users)| {
                users
                    .values()
                    .filter(|s| s.session_id == session_id)
                    .map(|s| (*g, s.user_id))
            })
            .collect())
    }
}
