//! Presence in a map with deadlines.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use discord_proto::Snowflake;
use tokio::time::Instant;

use crate::Result;
use crate::presence::{PresenceRecord, PresenceStore};

/// Presences and their deadlines by user. Entries are boxed: a hash table
/// keeps up to twice as many slots as entries, and a boxed entry's slot is
/// 16 bytes instead of about 64.
type Entries = HashMap<Snowflake, Box<(PresenceRecord, Instant)>>;

/// Presence in process memory.
#[derive(Debug, Default)]
pub struct MemoryPresence {
    entries: Mutex<Entries>,
}

impl MemoryPresence {
    /// An empty presence map.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic while holding the lock cannot leave the map half-updated
        // (every update is a single insert or remove), so poisoning is ignored.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl PresenceStore for MemoryPresence {
    async fn set(
        &self,
        user_id: Snowflake,
        presence: &PresenceRecord,
        ttl: Duration,
    ) -> Result<()> {
        self.lock()
            .insert(user_id, Box::new((presence.clone(), Instant::now() + ttl)));
        Ok(())
    }

    async fn get_many(&self, user_ids: &[Snowflake]) -> Result<Vec<(Snowflake, PresenceRecord)>> {
        let now = Instant::now();
        let map = self.lock();
        Ok(user_ids
            .iter()
            .filter_map(|id| match map.get(id).map(|e| &**e) {
                Some((p, deadline)) if *deadline > now => Some((*id, p.clone())),
                _ => None,
            })
            .collect())
    }

    async fn remove(&self, user_id: Snowflake) -> Result<bool> {
        Ok(self.lock().remove(&user_id).is_some())
    }

    async fn sweep_expired(&self) -> Result<Vec<Snowflake>> {
        let now = Instant::now();
        let mut map = self.lock();
        let expired: Vec<Snowflake> = map
            .iter()
            .filter(|(_, entry)| entry.1 <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in &expired {
            map.remove(id);
        }
        Ok(expired)
    }
}
