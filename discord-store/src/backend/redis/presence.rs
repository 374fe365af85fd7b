//! [`PresenceStore`] on Redis.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use discord_proto::Snowflake;
use redis::Script;

use super::{RedisStore, map_err};
use crate::Result;
use crate::presence::{PresenceRecord, PresenceStore};

/// KEYS: presence hash, deadlines zset. ARGV: user id, status, data, ttl ms.
/// The deadline uses the server's clock, so nodes' clocks do not matter.
static SET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'data', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[1])
return 1
",
    )
});

/// KEYS: deadlines zset. ARGV: presence key prefix. Returns the users whose
/// deadline passed and whose presence key is gone, removing them.
static SWEEP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  if redis.call('EXISTS', ARGV[1] .. id) == 0 then
    table.insert(out, id)
  end
end
return out
",
    )
});

impl RedisStore {
    fn presence_key(&self, id: Snowflake) -> String {
        self.key(&format!("presence:{id}"))
    }
}

#[async_trait]
impl PresenceStore for RedisStore {
    async fn set(
        &self,
        user_id: Snowflake,
        presence: &PresenceRecord,
        ttl: Duration,
    ) -> Result<()> {
        let status = serde_json::to_value(presence.status)?;
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let _: i64 = SET
            .key(self.presence_key(user_id))
            .key(self.key("presence:deadlines"))
            .arg(user_id.to_string())
            .arg(status.as_str().unwrap_or("online"))
            .arg(serde_json::to_string(presence)?)
            .arg(ttl_ms)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn get_many(&self, user_ids: &[Snowflake]) -> Result<Vec<(Snowflake, PresenceRecord)>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in user_ids {
            pipe.hget(self.presence_key(*id), "data");
        }
        let values: Vec<Option<String>> = pipe
            .query_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        let mut out = Vec::new();
        for (id, value) in user_ids.iter().zip(values) {
            if let Some(json) = value {
                out.push((*id, serde_json::from_str(&json)?));
            }
        }
        Ok(out)
    }

    async fn remove(&self, user_id: Snowflake) -> Result<bool> {
        let (deleted, _): (i64, i64) = redis::pipe()
            .atomic()
            .del(self.presence_key(user_id))
            .zrem(self.key("presence:deadlines"), user_id.to_string())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        Ok(deleted > 0)
    }

    async fn sweep_expired(&self) -> Result<Vec<Snowflake>> {
        let ids: Vec<String> = SWEEP
            .key(self.key("presence:deadlines"))
            .arg(self.key("presence:"))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        Ok(ids.iter().filter_map(|s| s.parse().ok()).collect())
    }
}
