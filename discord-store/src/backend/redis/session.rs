//! [`SessionStore`] on Redis: a hash per session (`record`, `seq`) and a
//! list per session holding `"<seq>\n<payload>"` entries, trimmed to the
//! bound; both expire together.

use std::sync::Arc;
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use redis::{AsyncCommands, Script};

use super::{RedisStore, map_err};
use crate::Result;
use crate::session::{LogBatch, Replay, SessionRecord, SessionStore, replay_from};

/// KEYS: session hash, log list. ARGV: record json, seq, ttl ms.
static SAVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('HSET', KEYS[1], 'record', ARGV[1])
local cur = tonumber(redis.call('HGET', KEYS[1], 'seq') or '-1')
if tonumber(ARGV[2]) > cur then redis.call('HSET', KEYS[1], 'seq', ARGV[2]) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
",
    )
});

/// KEYS: session hash, log list. ARGV: seq, payload, capacity, ttl ms.
static APPEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('RPUSH', KEYS[2], ARGV[1] .. '\n' .. ARGV[2])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)
redis.call('PEXPIRE', KEYS[2], ARGV[4])
local cur = tonumber(redis.call('HGET', KEYS[1], 'seq') or '-1')
if tonumber(ARGV[1]) > cur then redis.call('HSET', KEYS[1], 'seq', ARGV[1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
",
    )
});

/// KEYS: session hash, log list. ARGV: capacity, ttl ms, then seq and
/// payload pairs in order.
const APPEND_MANY_CODE: &str = r"
local top = -1
for i = 3, #ARGV, 2 do
  redis.call('RPUSH', KEYS[2], ARGV[i] .. '\n' .. ARGV[i + 1])
  if tonumber(ARGV[i]) > top then top = tonumber(ARGV[i]) end
end
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[1]), -1)
redis.call('PEXPIRE', KEYS[2], ARGV[2])
local cur = tonumber(redis.call('HGET', KEYS[1], 'seq') or '-1')
if top > cur then redis.call('HSET', KEYS[1], 'seq', top) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
";
static APPEND_MANY: LazyLock<Script> = LazyLock::new(|| Script::new(APPEND_MANY_CODE));

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisStore {
    fn session_keys(&self, id: &str) -> (String, String) {
        (
            self.key(&format!("session:{id}")),
            self.key(&format!("session:{id}:log")),
        )
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn save(&self, session: &SessionRecord, ttl: Duration) -> Result<()> {
        let (hash, log) = self.session_keys(&session.session_id);
        let _: i64 = SAVE
            .key(hash)
            .key(log)
            .arg(serde_json::to_string(session)?)
            .arg(session.seq)
            .arg(ttl_ms(ttl))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn get(&self, session_id: &str) -> Result<Option<SessionRecord>> {
        let (hash, _) = self.session_keys(session_id);
        let (record, seq): (Option<String>, Option<u64>) = redis::cmd("HMGET")
            .arg(&hash)
            .arg("record")
            .arg("seq")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        let Some(record) = record else {
            return Ok(None);
        };
        let mut record: SessionRecord = serde_json::from_str(&record)?;
        record.seq = record.seq.max(seq.unwrap_or(0));
        Ok(Some(record))
    }

    async fn delete(&self, session_id: &str) -> Result<()> {
        let (hash, log) = self.session_keys(session_id);
        let _: i64 = self.conn.clone().del(&[hash, log]).await.map_err(map_err)?;
        Ok(())
    }

    async fn append(
        &self,
        session_id: &str,
        seq: u64,
        payload: Arc<str>,
        ttl: Duration,
    ) -> Result<()> {
        let (hash, log) = self.session_keys(session_id);
        let _: i64 = APPEND
            .key(hash)
            .key(log)
            .arg(seq)
            .arg(&*payload)
            .arg(self.capacity)
            .arg(ttl_ms(ttl))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn append_many(
        &self,
        session_id: &str,
        entries: Vec<(u64, Arc<str>)>,
        ttl: Duration,
    ) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let (hash, log) = self.session_keys(session_id);
        let script = &*APPEND_MANY;
        let mut call = script.key(hash);
        call.key(log).arg(self.capacity).arg(ttl_ms(ttl));
        for (seq, payload) in &entries {
            call.arg(*seq).arg(&**payload);
        }
        let _: i64 = call
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// One pipeline for the whole batch: the script is loaded first (a
    /// no-op when Redis has it), then run once per session by its hash.
    async fn append_batch(&self, batch: LogBatch<'_>, ttl: Duration) -> Result<()> {
        let script = &*APPEND_MANY;
        let ttl = ttl_ms(ttl);
        let mut pipe = redis::pipe();
        pipe.cmd("SCRIPT")
            .arg("LOAD")
            .arg(APPEND_MANY_CODE)
            .ignore();
        let mut calls = 0;
        for (session_id, entries) in batch.iter() {
            let (hash, log) = self.session_keys(session_id);
            let call = pipe
                .cmd("EVALSHA")
                .arg(script.get_hash())
                .arg(2)
                .arg(hash)
                .arg(log)
                .arg(self.capacity)
                .arg(ttl);
            for (seq, payload) in entries {
                call.arg(*seq).arg(&**payload);
            }
            call.ignore();
            calls += 1;
        }
        if calls == 0 {
            return Ok(());
        }
        let () = pipe
            .query_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn replay_after(&self, session_id: &str, seq: u64) -> Result<Replay> {
        let (hash, log) = self.session_keys(session_id);
        let (exists, entries): (bool, Vec<String>) = redis::pipe()
            .atomic()
            .hexists(&hash, "record")
            .lrange(&log, 0, -1)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        if !exists {
            return Ok(Replay::UnknownSession);
        }
        let mut events = Vec::with_capacity(entries.len());
        for entry in entries {
            let (s, payload) = entry
                .split_once('\n')
                .ok_or_else(|| crate::StoreError::Backend("malformed replay log entry".into()))?;
            let s: u64 = s
                .parse()
                .map_err(|_| crate::StoreError::Backend("malformed replay log seq".into()))?;
            events.push((s, payload.to_owned()));
        }
        Ok(replay_from(events.into_iter(), seq))
    }
}
