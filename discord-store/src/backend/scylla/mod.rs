//! ScyllaDB through the `scylla` crate (feature `scylla`): messages in the
//! seed design's table, partitioned by `(channel_id, bucket)` and clustered
//! by `message_id DESC`, with prepared statements.
//!
//! Next to it, `channel_buckets` lists each channel's non-empty buckets, so
//! history skips empty stretches instead of probing every bucket back to the
//! channel's creation; `message_nonces` claims a nonce with a lightweight
//! transaction (`IF NOT EXISTS`) so a retried send stores once; reactions
//! are partitioned by message.
//!
//! Statements are prepared on first use and cached. Unlike the SQL
//! backends, inserting a message ID that already exists overwrites it (CQL
//! inserts are upserts); IDs come from a generator and never repeat.

mod message_store;
mod walk;

use std::sync::Arc;

use async_trait::async_trait;
use discord_proto::Snowflake;
use discord_proto::model::Timestamp;
use discord_snowflake::TimeBuckets;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::{CqlValue, Row};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use self::walk::{Bound, PartitionReader};
use crate::message::{MessageBody, MessageRecord};
use crate::{BoxError, Result, StoreError};

/// How to reach a ScyllaDB (or Cassandra) cluster.
#[derive(Clone, Debug)]
pub struct ScyllaConfig {
    /// Contact points (`host:port`).
    pub nodes: Vec<String>,
    /// The keyspace (created if missing).
    pub keyspace: String,
    /// Replication factor used when creating the keyspace.
    pub replication_factor: u32,
    /// Time-bucket width.
    pub buckets: TimeBuckets,
    /// Wait for schema agreement after DDL (turn off only for test servers
    /// that do not implement it).
    pub await_schema_agreement: bool,
}

impl ScyllaConfig {
    /// One node, keyspace `discord`, replication factor 1, 5-day buckets.
    pub fn new(node: impl Into<String>) -> Self {
        ScyllaConfig {
            nodes: vec![node.into()],
            keyspace: "discord".to_owned(),
            replication_factor: 1,
            buckets: TimeBuckets::default(),
            await_schema_agreement: true,
        }
    }
}

fn err<E: std::error::Error + Send + Sync + 'static>(e: E) -> StoreError {
    let text = e.to_string();
    let boxed: BoxError = Box::new(e);
    // Connection-level failures are worth retrying; the driver's errors
    // do not expose a stable kind for this, so go by the message.
    if text.contains("connect") || text.contains("Connection") || text.contains("timed out") {
        StoreError::Unavailable(boxed)
    } else {
        StoreError::Backend(boxed)
    }
}

/// The `data` column: the body plus the guild.
#[derive(Serialize, Deserialize)]
struct Data {
    #[serde(default)]
    guild_id: Option<Snowflake>,
    #[serde(flatten)]
    body: MessageBody,
}

const COLUMNS: &str = "channel_id, message_id, author_id, content, nonce, edited_at, data";

type MessageRow = (i64, i64, i64, String, Option<String>, Option<i64>, String);

fn to_record(row: MessageRow) -> Result<MessageRecord> {
    let (channel_id, id, author_id, content, nonce, edited_at, data) = row;
    let data: Data = serde_json::from_str(&data)?;
    Ok(MessageRecord {
        id: Snowflake::new(id as u64),
        channel_id: Snowflake::new(channel_id as u64),
        guild_id: data.guild_id,
        author_id: Snowflake::new(author_id as u64),
        content,
        nonce,
        edited_at: edited_at.map(Timestamp::from_unix_micros),
        body: data.body,
    })
}

fn id(s: Snowflake) -> i64 {
    s.get() as i64
}

/// Lazily prepared statements.
#[derive(Default)]
struct Statements {
    insert: OnceCell<PreparedStatement>,
    insert_bucket: OnceCell<PreparedStatement>,
    claim_nonce: OnceCell<PreparedStatement>,
    reclaim_nonce: OnceCell<PreparedStatement>,
    get: OnceCell<PreparedStatement>,
    delete: OnceCell<PreparedStatement>,
    buckets: OnceCell<PreparedStatement>,
    newest: OnceCell<PreparedStatement>,
    below: OnceCell<PreparedStatement>,
    above: OnceCell<PreparedStatement>,
    react: OnceCell<PreparedStatement>,
    reaction: OnceCell<PreparedStatement>,
    unreact: OnceCell<PreparedStatement>,
    reactions: OnceCell<PreparedStatement>,
    reaction_users: OnceCell<PreparedStatement>,
    delete_reactions: OnceCell<PreparedStatement>,
}

/// The message store on ScyllaDB.
#[derive(Clone)]
pub struct ScyllaMessages {
    session: Arc<Session>,
    ks: String,
    buckets: TimeBuckets,
    stmts: Arc<Statements>,
}

impl std::fmt::Debug for ScyllaMessages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScyllaMessages")
            .field("keyspace", &self.ks)
            .finish_non_exhaustive()
    }
}

impl ScyllaMessages {
    /// Connects and creates the keyspace and tables if missing.
    pub async fn connect(config: &ScyllaConfig) -> Result<Self> {
        let ks = &config.keyspace;
        if !ks.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || ks.is_empty() {
            return Err(StoreError::Invalid(format!("bad keyspace name {ks:?}")));
        }
        let session = SessionBuilder::new()
            .known_nodes(&config.nodes)
            .auto_await_schema_agreement(config.await_schema_agreement)
            .build()
            .await
            .map_err(err)?;
        let rf = config.replication_factor.max(1);
        let ddl = [
            format!(
                "CREATE KEYSPACE IF NOT EXISTS {ks} WITH REPLICATION = \
                 {{'class': 'SimpleStrategy', 'replication_factor': {rf}}}"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {ks}.messages (channel_id bigint, bucket int, \
                 message_id bigint, author_id bigint, content text, nonce text, edited_at bigint, \
                 data text, PRIMARY KEY ((channel_id, bucket), message_id)) \
                 WITH CLUSTERING ORDER BY (message_id DESC)"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {ks}.channel_buckets (channel_id bigint, bucket int, \
                 PRIMARY KEY (channel_id, bucket)) WITH CLUSTERING ORDER BY (bucket DESC)"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {ks}.message_nonces (channel_id bigint, author_id bigint, \
                 nonce text, message_id bigint, PRIMARY KEY ((channel_id, author_id, nonce)))"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {ks}.reactions (channel_id bigint, message_id bigint, \
                 emoji text, user_id bigint, created_at bigint, \
                 PRIMARY KEY ((channel_id, message_id), emoji, user_id))"
            ),
        ];
        for stmt in ddl {
            session.query_unpaged(stmt, ()).await.map_err(err)?;
        }
        Ok(ScyllaMessages {
            session: Arc::new(session),
            ks: ks.clone(),
            buckets: config.buckets,
            stmts: Arc::new(Statements::default()),
        })
    }

    async fn prep<'a>(
        &self,
        cell: &'a OnceCell<PreparedStatement>,
        cql: impl FnOnce(&str) -> String,
    ) -> Result<&'a PreparedStatement> {
        cell.get_or_try_init(|| async { self.session.prepare(cql(&self.ks)).await.map_err(err) })
            .await
    }

    async fn rows<R>(
        &self,
        stmt: &PreparedStatement,
        values: impl scylla::serialize::row::SerializeRow,
    ) -> Result<Vec<R>>
    where
        R: for<'f, 'm> scylla::deserialize::row::DeserializeRow<'f, 'm>,
    {
        let result = self
            .session
            .execute_unpaged(stmt, values)
            .await
            .map_err(err)?;
        let rows = result.into_rows_result().map_err(err)?;
        let out: Result<Vec<R>, _> = rows.rows::<R>().map_err(err)?.collect();
        out.map_err(err)
    }

    async fn exec(
        &self,
        stmt: &PreparedStatement,
        values: impl scylla::serialize::row::SerializeRow,
    ) -> Result<()> {
        self.session
            .execute_unpaged(stmt, values)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn write(&self, m: &MessageRecord) -> Result<()> {
        let data = serde_json::to_string(&Data {
            guild_id: m.guild_id,
            body: m.body.clone(),
        })?;
        let bucket = self.buckets.bucket_of(m.id) as i32;
        let insert = self
            .prep(&self.stmts.insert, |ks| {
                format!(
                    "INSERT INTO {ks}.messages (channel_id, bucket, message_id, author_id, content, \
                     nonce, edited_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                )
            })
            .await?;
        self.exec(
            insert,
            (
                id(m.channel_id),
                bucket,
                id(m.id),
                id(m.author_id),
                &m.content,
                m.nonce.as_deref(),
                m.edited_at.map(Timestamp::unix_micros),
                data,
            ),
        )
        .await
    }

    async fn index_bucket(&self, channel: Snowflake, bucket: u32) -> Result<()> {
        let stmt = self
            .prep(&self.stmts.insert_bucket, |ks| {
                format!("INSERT INTO {ks}.channel_buckets (channel_id, bucket) VALUES (?, ?)")
            })
            .await?;
        self.exec(stmt, (id(channel), bucket as i32)).await
    }

    /// The channel's non-empty buckets.
    async fn channel_buckets(&self, channel: Snowflake) -> Result<Vec<u32>> {
        let stmt = self
            .prep(&self.stmts.buckets, |ks| {
                format!("SELECT bucket FROM {ks}.channel_buckets WHERE channel_id = ?")
            })
            .await?;
        let rows: Vec<(i32,)> = self.rows(stmt, (id(channel),)).await?;
        Ok(rows.into_iter().map(|(b,)| b as u32).collect())
    }

    async fn reaction_exists(&self, key: (i64, i64, &str, i64)) -> Result<bool> {
        let stmt = self
            .prep(&self.stmts.reaction, |ks| {
                format!(
                    "SELECT user_id FROM {ks}.reactions WHERE channel_id = ? AND message_id = ? \
                     AND emoji = ? AND user_id = ?"
                )
            })
            .await?;
        let found: Vec<(i64,)> = self.rows(stmt, key).await?;
        Ok(!found.is_empty())
    }

    /// Points a nonce at this message unconditionally.
    async fn reclaim_nonce(&self, m: &MessageRecord, nonce: &str) -> Result<()> {
        let stmt = self
            .prep(&self.stmts.reclaim_nonce, |ks| {
                format!(
                    "INSERT INTO {ks}.message_nonces (channel_id, author_id, nonce, message_id) \
                     VALUES (?, ?, ?, ?)"
                )
            })
            .await?;
        self.exec(stmt, (id(m.channel_id), id(m.author_id), nonce, id(m.id)))
            .await
    }

    /// Claims a nonce; `Some(existing message ID)` if it was already taken.
    async fn claim_nonce(&self, m: &MessageRecord, nonce: &str) -> Result<Option<Snowflake>> {
        let stmt = self
            .prep(&self.stmts.claim_nonce, |ks| {
                format!(
                    "INSERT INTO {ks}.message_nonces (channel_id, author_id, nonce, message_id) \
                     VALUES (?, ?, ?, ?) IF NOT EXISTS"
                )
            })
            .await?;
        let rows: Vec<Row> = self
            .rows(stmt, (id(m.channel_id), id(m.author_id), nonce, id(m.id)))
            .await?;
        let Some(row) = rows.into_iter().next() else {
            return Err(StoreError::Backend("LWT returned no [applied] row".into()));
        };
        let applied = matches!(row.columns.first(), Some(Some(CqlValue::Boolean(true))));
        if applied {
            return Ok(None);
        }
        // Not applied: the row carries the existing values; message_id is
        // the last column of the table's (sorted) non-key columns.
        let existing = row.columns.iter().rev().find_map(|c| match c {
            Some(CqlValue::BigInt(v)) => Some(Snowflake::new(*v as u64)),
            _ => None,
        });
        Ok(existing)
    }
}

#[async_trait]
impl PartitionReader for (ScyllaMessages, Snowflake) {
    async fn read(&self, bucket: u32, bound: Bound, limit: usize) -> Result<Vec<MessageRecord>> {
        let (s, channel) = self;
        let limit = i32::try_from(limit).unwrap_or(i32::MAX);
        let b = bucket as i32;
        let rows: Vec<MessageRow> = match bound {
            Bound::Newest => {
                let stmt = s
                    .prep(&s.stmts.newest, |ks| {
                        format!(
                            "SELECT {COLUMNS} FROM {ks}.messages WHERE channel_id = ? AND bucket = ? LIMIT ?"
                        )
                    })
                    .await?;
                s.rows(stmt, (id(*channel), b, limit)).await?
            }
            Bound::Below(x) => {
                let stmt = s
                    .prep(&s.stmts.below, |ks| {
                        format!(
                            "SELECT {COLUMNS} FROM {ks}.messages WHERE channel_id = ? AND bucket = ? \
                             AND message_id < ? LIMIT ?"
                        )
                    })
                    .await?;
                s.rows(stmt, (id(*channel), b, id(x), limit)).await?
            }
            Bound::Above(x) => {
                let stmt = s
                    .prep(&s.stmts.above, |ks| {
                        format!(
                            "SELECT {COLUMNS} FROM {ks}.messages WHERE channel_id = ? AND bucket = ? \
                             AND message_id > ? ORDER BY message_id ASC LIMIT ?"
                        )
                    })
                    .await?;
                s.rows(stmt, (id(*channel), b, id(x), limit)).await?
            }
        };
        rows.into_iter().map(to_record).collect()
    }
}
