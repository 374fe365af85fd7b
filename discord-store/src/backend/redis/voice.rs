//! [`VoiceStateStore`] on Redis: a hash per guild (user ID -> the state as
//! JSON) and a set per gateway session of `guild:user` pairs. Scripts make
//! each change atomic, the channel limit check included.

use std::sync::LazyLock;

use async_trait::async_trait;
use discord_proto::Snowflake;
use discord_proto::model::VoiceState;
use redis::Script;

use super::{RedisStore, map_err};
use crate::Result;
use crate::voice::{VoiceJoin, VoiceStateStore};

/// KEYS: guild hash. ARGV: user, channel, state JSON, limit, session key
/// prefix, guild, session. Returns {0, ''} when full, else {1, previous or
/// ''}.
static JOIN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local prev = redis.call('HGET', KEYS[1], ARGV[1])
local prev_channel, prev_session = nil, nil
if prev then
  local d = cjson.decode(prev)
  prev_channel = d['channel_id']
  prev_session = d['session_id']
end
if prev_channel ~= ARGV[2] then
  local n = 0
  for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
    if cjson.decode(v)['channel_id'] == ARGV[2] then n = n + 1 end
  end
  if n >= tonumber(ARGV[4]) then return {0, ''} end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
local member = ARGV[6] .. ':' .. ARGV[1]
if prev_session and prev_session ~= ARGV[7] then
  redis.call('SREM', ARGV[5] .. prev_session, member)
end
redis.call('SADD', ARGV[5] .. ARGV[7], member)
return {1, prev or ''}
",
    )
});

/// KEYS: guild hash. ARGV: user, expected JSON, new JSON.
static REPLACE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return 1
end
return 0
",
    )
});

/// KEYS: guild hash. ARGV: user, session key prefix, guild. Returns the
/// removed state or ''.
static LEAVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local prev = redis.call('HGET', KEYS[1], ARGV[1])
if not prev then return '' end
redis.call('HDEL', KEYS[1], ARGV[1])
local session = cjson.decode(prev)['session_id']
if type(session) == 'string' then
  redis.call('SREM', ARGV[2] .. session, ARGV[3] .. ':' .. ARGV[1])
end
return prev
",
    )
});

impl RedisStore {
    fn voice_guild_key(&self, guild_id: Snowflake) -> String {
        self.key(&format!("voice:guild:{guild_id}"))
    }

    fn voice_session_prefix(&self) -> String {
        self.key("voice:session:")
    }
}

fn parse(json: &str) -> Result<Option<VoiceState>> {
    if json.is_empty() {
        return Ok(None);
    }
    Ok(Some(serde_json::from_str(json)?))
}

#[async_trait]
impl VoiceStateStore for RedisStore {
    async fn join(
        &self,
        guild_id: Snowflake,
        state: &VoiceState,
        limit: usize,
    ) -> Result<VoiceJoin> {
        let channel = state.channel_id.map(|c| c.to_string()).unwrap_or_default();
        let (joined, previous): (i64, String) = JOIN
            .key(self.voice_guild_key(guild_id))
            .arg(state.user_id.to_string())
            .arg(channel)
            .arg(serde_json::to_string(state)?)
            .arg(limit.min(i64::MAX as usize) as i64)
            .arg(self.voice_session_prefix())
            .arg(guild_id.to_string())
            .arg(&state.session_id)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        if joined == 0 {
            return Ok(VoiceJoin::Full);
        }
        Ok(VoiceJoin::Joined {
            previous: parse(&previous)?.map(Box::new),
        })
    }

    async fn replace(
        &self,
        guild_id: Snowflake,
        expected: &VoiceState,
        new: &VoiceState,
    ) -> Result<bool> {
        let done: i64 = REPLACE
            .key(self.voice_guild_key(guild_id))
            .arg(expected.user_id.to_string())
            .arg(serde_json::to_string(expected)?)
            .arg(serde_json::to_string(new)?)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        Ok(done == 1)
    }

    async fn leave(&self, guild_id: Snowflake, user_id: Snowflake) -> Result<Option<VoiceState>> {
        let prev: String = LEAVE
            .key(self.voice_guild_key(guild_id))
            .arg(user_id.to_string())
            .arg(self.voice_session_prefix())
            .arg(guild_id.to_string())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        parse(&prev)
    }

    async fn get(&self, guild_id: Snowflake, user_id: Snowflake) -> Result<Option<VoiceState>> {
        let json: Option<String> = redis::cmd("HGET")
            .arg(self.voice_guild_key(guild_id))
            .arg(user_id.to_string())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        parse(json.as_deref().unwrap_or(""))
    }

    async fn guild(&self, guild_id: Snowflake) -> Result<Vec<VoiceState>> {
        let values: Vec<String> = redis::cmd("HVALS")
            .arg(self.voice_guild_key(guild_id))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        values
            .iter()
            .map(|v| Ok(serde_json::from_str(v)?))
            .collect()
    }

    async fn of_session(&self, session_id: &str) -> Result<Vec<(Snowflake, Snowflake)>> {
        let members: Vec<String> = redis::cmd("SMEMBERS")
            .arg(format!("{}{session_id}", self.voice_session_prefix()))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        Ok(members
            .iter()
            .filter_map(|m| {
                let (g, u) = m.split_once(':')?;
                Some((g.parse().ok()?, u.parse().ok()?))
            })
            .collect())
    }
}
