//! [`MessageStore`] on SQLite.

use async_trait::async_trait;
use discord_proto::Snowflake;
use discord_proto::model::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use std::collections::HashMap;

use super::group_commit::{WriteJob, submit};
use discord_snowflake::TimeBuckets;
use sqlx::AnyConnection;

use crate::event_bus::BusEvent;

use super::{Engine, SqlStore, db_id, from_db};
use crate::message::{
    HistoryAnchor, HistoryQuery, InsertOutcome, MessageBody, MessageRecord, MessageStore,
    ReactionCount, ReactionSummary,
};
use crate::{Result, StoreError};

/// The `data` column: the body plus the guild.
#[derive(Serialize, Deserialize)]
struct Data {
    #[serde(default)]
    guild_id: Option<Snowflake>,
    #[serde(flatten)]
    body: MessageBody,
}

/// Rows per multi-row INSERT (8 parameters each, far below both engines'
/// parameter limits).
const BATCH_ROWS: usize = 100;

/// `INSERT INTO messages (...) VALUES ($1, ..., $8), ($9, ...), ...` for `n`
/// rows (`?` placeholders on SQLite). Only numbers are interpolated, so the
/// text is safe.
pub(super) fn multi_row_insert(n: usize, engine: Engine) -> String {
    let mut sql = String::from(
        "INSERT INTO messages (id, channel_id, bucket, author_id, nonce, content, edited_at, data) VALUES ",
    );
    for row in 0..n {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for col in 0..8 {
            if col > 0 {
                sql.push_str(", ");
            }
            match engine {
                // Plain `?`: sqlx's SQLite driver looks up every *named*
                // parameter by a linear scan, quadratic in a long VALUES list.
                Engine::Sqlite => sql.push('?'),
                Engine::Postgres => sql.push_str(&format!("${}", row * 8 + col + 1)),
            }
        }
        sql.push(')');
    }
    sql
}

/// `SELECT <message columns> FROM messages <rest>` as one literal, so the
/// column list that `row_to_record` reads is written once.
macro_rules! select_messages {
    ($rest:literal) => {
        concat!(
            "SELECT id, channel_id, author_id, nonce, content, edited_at, data FROM messages ",
            $rest
        )
    };
}

/// A message from a row of `select_messages!` read through sqlx.
fn row_to_record(row: &sqlx::any::AnyRow) -> Result<MessageRecord> {
    let data: &str = row.try_get("data")?;
    Ok(record((
        row.try_get("id")?,
        row.try_get("channel_id")?,
        row.try_get("author_id")?,
        row.try_get("nonce")?,
        row.try_get("content")?,
        row.try_get("edited_at")?,
        serde_json::from_str(data)?,
    )))
}

/// A message from `select_messages!`'s columns, in order.
fn record((id, channel_id, author_id, nonce, content, edited_at, data): Columns) -> MessageRecord {
    MessageRecord {
        id: from_db(id),
        channel_id: from_db(channel_id),
        guild_id: data.guild_id,
        author_id: from_db(author_id),
        content,
        nonce,
        edited_at: edited_at.map(Timestamp::from_unix_micros),
        body: data.body,
    }
}

/// `select_messages!`'s columns in order, `data` parsed.
type Columns = (i64, i64, i64, Option<String>, String, Option<i64>, Data);

/// A message from a row of `select_messages!` read through SQLite's native
/// [`Reader`](super::reader::Reader).
fn native_record(row: &rusqlite::Row<'_>) -> Result<MessageRecord> {
    let data = row.get_ref(6)?.as_str().map_err(rusqlite::Error::from)?;
    Ok(record((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        serde_json::from_str(data)?,
    )))
}

/// The messages `sql` (a `select_messages!` query) selects with `params`,
/// through SQLite's native reader.
fn native_records(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl IntoIterator<Item = i64>,
) -> Result<Vec<MessageRecord>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
    let mut records = Vec::new();
    while let Some(row) = rows.next()? {
        records.push(native_record(row)?);
    }
    Ok(records)
}

fn data_json(m: &MessageRecord) -> Result<String> {
    Ok(serde_json::to_string(&Data {
        guild_id: m.guild_id,
        body: m.body.clone(),
    })?)
}

/// Binds one message row's eight columns, in `multi_row_insert`'s order.
pub(super) fn bind_message<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    buckets: TimeBuckets,
    m: &'q MessageRecord,
) -> Result<sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>> {
    Ok(q.bind(db_id(m.id))
        .bind(db_id(m.channel_id))
        .bind(i64::from(buckets.bucket_of(m.id)))
        .bind(db_id(m.author_id))
        .bind(m.nonce.as_deref())
        .bind(m.content.as_str())
        .bind(m.edited_at.map(Timestamp::unix_micros))
        .bind(data_json(m)?))
}

/// Inserts one message on `conn`; a nonce already used by the author in
/// the channel yields the first message instead.
pub(super) async fn insert_on(
    conn: &mut AnyConnection,
    buckets: TimeBuckets,
    m: &MessageRecord,
) -> Result<InsertOutcome> {
    let inserted = bind_message(
        sqlx::query(
            "INSERT INTO messages (id, channel_id, bucket, author_id, nonce, content, edited_at, data)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        ),
        buckets,
        m,
    )?
    .execute(&mut *conn)
    .await;
    match inserted {
        Ok(_) => Ok(InsertOutcome::Inserted),
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
            resolve_conflict(conn, m).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The answer for a message whose row was not stored because of a unique
/// key: the earlier message with its nonce, or a conflict on its ID.
pub(super) async fn resolve_conflict(
    conn: &mut AnyConnection,
    m: &MessageRecord,
) -> Result<InsertOutcome> {
    let conflict = || StoreError::Conflict(format!("message {} already exists", m.id));
    let Some(nonce) = m.nonce.as_deref() else {
        return Err(conflict());
    };
    let row = sqlx::query(select_messages!(
        "WHERE channel_id = $1 AND author_id = $2 AND nonce = $3"
    ))
    .bind(db_id(m.channel_id))
    .bind(db_id(m.author_id))
    .bind(nonce)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(row) => Ok(InsertOutcome::Duplicate(Box::new(row_to_record(&row)?))),
        None => Err(conflict()),
    }
}

/// Appends a bus event on `conn`.
pub(super) async fn publish_on(conn: &mut AnyConnection, event: &BusEvent) -> Result<()> {
    sqlx::query("INSERT INTO bus_events (channel_id, kind, payload) VALUES ($1, $2, $3)")
        .bind(db_id(event.channel_id))
        .bind(&event.kind)
        .bind(event.payload.as_ref())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl SqlStore {
    /// One page of history: `sql` takes the channel, the anchor if any, and
    /// the limit. SQLite reads through the native read pool.
    async fn page(
        &self,
        sql: &'static str,
        channel_id: Snowflake,
        anchor: Option<Snowflake>,
        limit: usize,
    ) -> Result<Vec<MessageRecord>> {
        if let Some(reader) = &self.reader {
            let mut params = vec![db_id(channel_id)];
            params.extend(anchor.map(db_id));
            params.push(limit as i64);
            return reader.read(|conn| native_records(conn, sql, params));
        }
        let mut q = sqlx::query(sql).bind(db_id(channel_id));
        if let Some(a) = anchor {
            q = q.bind(db_id(a));
        }
        let rows = q.bind(limit as i64).fetch_all(&self.pool).await?;
        rows.iter().map(row_to_record).collect()
    }
}

/// Stores `messages` in one transaction with multi-row INSERTs of up to
/// `BATCH_ROWS` rows: all of them, or (on an error) none.
pub(super) async fn insert_rows(
    conn: &mut AnyConnection,
    engine: Engine,
    buckets: TimeBuckets,
    messages: &[MessageRecord],
) -> Result<()> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    for chunk in messages.chunks(BATCH_ROWS) {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(multi_row_insert(chunk.len(), engine)));
        for m in chunk {
            q = bind_message(q, buckets, m)?;
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

#[async_trait]
impl MessageStore for SqlStore {
    async fn insert(&self, message: &MessageRecord) -> Result<InsertOutcome> {
        if let Some(writer) = &self.writer {
            // SQLite: hand it to the group-commit writer, which answers only
            // after the transaction holding it committed.
            return submit(writer, |done| {
                WriteJob::Insert(Box::new(message.clone()), done)
            })
            .await;
        }
        let mut conn = self.pool.acquire().await?;
        insert_on(&mut conn, self.buckets, message).await
    }

    async fn insert_batch(&self, messages: &[MessageRecord]) -> Result<()> {
        if let Some(writer) = &self.writer {
            // SQLite: on the writer's connection (its page cache stays warm,
            // and batches do not contend with it for the write lock).
            return submit(writer, |done| WriteJob::Batch(messages.to_vec(), done)).await;
        }
        let mut conn = self.pool.acquire().await?;
        insert_rows(&mut conn, self.engine, self.buckets, messages).await
    }

    async fn get(&self, channel_id: Snowflake, id: Snowflake) -> Result<Option<MessageRecord>> {
        let sql = select_messages!("WHERE id = $1 AND channel_id = $2");
        if let Some(reader) = &self.reader {
            let found =
                reader.read(|conn| native_records(conn, sql, [db_id(id), db_id(channel_id)]))?;
            return Ok(found.into_iter().next());
        }
        let row = sqlx::query(sql)
            .bind(db_id(id))
            .bind(db_id(channel_id))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(row_to_record).transpose()
    }

    async fn edit(&self, m: &MessageRecord) -> Result<()> {
        let done = sqlx::query(
            "UPDATE messages SET content = $1, edited_at = $2, data = $3
             WHERE id = $4 AND channel_id = $5",
        )
        .bind(&m.content)
        .bind(m.edited_at.map(Timestamp::unix_micros))
        .bind(data_json(m)?)
        .bind(db_id(m.id))
        .bind(db_id(m.channel_id))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("message"));
        }
        Ok(())
    }

    async fn delete(&self, channel_id: Snowflake, id: Snowflake) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM messages WHERE id = $1 AND channel_id = $2")
            .bind(db_id(id))
            .bind(db_id(channel_id))
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM reactions WHERE message_id = $1 AND channel_id = $2")
            .bind(db_id(id))
            .bind(db_id(channel_id))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn bulk_delete(
        &self,
        channel_id: Snowflake,
        ids: &[Snowflake],
    ) -> Result<Vec<Snowflake>> {
        let mut tx = self.pool.begin().await?;
        let mut deleted = Vec::new();
        for id in ids {
            let done = sqlx::query("DELETE FROM messages WHERE id = $1 AND channel_id = $2")
                .bind(db_id(*id))
                .bind(db_id(channel_id))
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() > 0 {
                sqlx::query("DELETE FROM reactions WHERE message_id = $1 AND channel_id = $2")
                    .bind(db_id(*id))
                    .bind(db_id(channel_id))
                    .execute(&mut *tx)
                    .await?;
                deleted.push(*id);
            }
        }
        tx.commit().await?;
        Ok(deleted)
    }

    async fn history(
        &self,
        channel_id: Snowflake,
        query: HistoryQuery,
    ) -> Result<Vec<MessageRecord>> {
        query.validate()?;
        let limit = usize::from(query.limit);
        Ok(match query.anchor {
            HistoryAnchor::Latest => {
                self.page(
                    select_messages!("WHERE channel_id = $1 ORDER BY id DESC LIMIT $2"),
                    channel_id,
                    None,
                    limit,
                )
                .await?
            }
            HistoryAnchor::Before(id) => {
                self.page(
                    select_messages!("WHERE channel_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"),
                    channel_id,
                    Some(id),
                    limit,
                )
                .await?
            }
            HistoryAnchor::After(id) => {
                let mut page = self
                    .page(
                        select_messages!(
                            "WHERE channel_id = $1 AND id > $2 ORDER BY id ASC LIMIT $3"
                        ),
                        channel_id,
                        Some(id),
                        limit,
                    )
                    .await?;
                page.reverse();
                page
            }
            HistoryAnchor::Around(id) => {
                let newer_n = query.around_newer();
                let mut newer = if newer_n == 0 {
                    Vec::new()
                } else {
                    self.page(
                        select_messages!(
                            "WHERE channel_id = $1 AND id > $2 ORDER BY id ASC LIMIT $3"
                        ),
                        channel_id,
                        Some(id),
                        newer_n,
                    )
                    .await?
                };
                newer.reverse();
                let older = self
                    .page(
                        select_messages!(
                            "WHERE channel_id = $1 AND id <= $2 ORDER BY id DESC LIMIT $3"
                        ),
                        channel_id,
                        Some(id),
                        limit - newer_n,
                    )
                    .await?;
                newer.extend(older);
                newer
            }
        })
    }

    async fn add_reaction(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: &str,
        user_id: Snowflake,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO reactions (message_id, emoji, user_id, channel_id, created_at)
             SELECT $1, $2, $3, $4, $5
             WHERE EXISTS (SELECT 1 FROM messages WHERE id = $1 AND channel_id = $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(db_id(message_id))
        .bind(emoji)
        .bind(db_id(user_id))
        .bind(db_id(channel_id))
        .bind(Timestamp::now().unix_micros())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 && self.get(channel_id, message_id).await?.is_none() {
            return Err(StoreError::NotFound("message"));
        }
        Ok(done.rows_affected() > 0)
    }

    async fn remove_reaction(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: &str,
        user_id: Snowflake,
    ) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3 AND channel_id = $4",
        )
        .bind(db_id(message_id))
        .bind(emoji)
        .bind(db_id(user_id))
        .bind(db_id(channel_id))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn reactions(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
    ) -> Result<Vec<ReactionCount>> {
        let rows = sqlx::query(
            "SELECT emoji, COUNT(*) AS n, MIN(created_at) AS first_at FROM reactions
             WHERE message_id = $1 AND channel_id = $2
             GROUP BY emoji ORDER BY first_at, emoji",
        )
        .bind(db_id(message_id))
        .bind(db_id(channel_id))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ReactionCount {
                    emoji: r.try_get("emoji")?,
                    count: u32::try_from(r.try_get::<i64, _>("n")?).unwrap_or(u32::MAX),
                    first_at: Timestamp::from_unix_micros(r.try_get("first_at")?),
                })
            })
            .collect()
    }

    async fn reaction_summaries(
        &self,
        channel_id: Snowflake,
        message_ids: &[Snowflake],
        viewer: Snowflake,
    ) -> Result<HashMap<Snowflake, Vec<ReactionSummary>>> {
        let (Some(lo), Some(hi)) = (message_ids.iter().min(), message_ids.iter().max()) else {
            return Ok(HashMap::new());
        };
        // One range scan of the primary key over the page's messages.
        let rows = sqlx::query(
            "SELECT message_id, emoji, COUNT(*) AS n, MIN(created_at) AS first_at,
                    MAX(CASE WHEN user_id = $4 THEN 1 ELSE 0 END) AS me
             FROM reactions
             WHERE channel_id = $1 AND message_id >= $2 AND message_id <= $3
             GROUP BY message_id, emoji",
        )
        .bind(db_id(channel_id))
        .bind(db_id(*lo))
        .bind(db_id(*hi))
        .bind(db_id(viewer))
        .fetch_all(&self.pool)
        .await?;
        let wanted: std::collections::HashSet<Snowflake> = message_ids.iter().copied().collect();
        let mut out: HashMap<Snowflake, Vec<ReactionSummary>> = HashMap::new();
        for r in &rows {
            let id = from_db(r.try_get("message_id")?);
            if !wanted.contains(&id) {
                continue;
            }
            out.entry(id).or_default().push(ReactionSummary {
                count: ReactionCount {
                    emoji: r.try_get("emoji")?,
                    count: u32::try_from(r.try_get::<i64, _>("n")?).unwrap_or(u32::MAX),
                    first_at: Timestamp::from_unix_micros(r.try_get("first_at")?),
                },
                me: r.try_get::<i64, _>("me")? != 0,
            });
        }
        for list in out.values_mut() {
            list.sort_by(|a, b| {
                (a.count.first_at, &a.count.emoji).cmp(&(b.count.first_at, &b.count.emoji))
            });
        }
        Ok(out)
    }

    async fn reaction_users(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: &str,
        after: Option<Snowflake>,
        limit: u8,
    ) -> Result<Vec<Snowflake>> {
        let rows = sqlx::query(
            "SELECT user_id FROM reactions
             WHERE message_id = $1 AND channel_id = $2 AND emoji = $3 AND user_id > $4
             ORDER BY user_id LIMIT $5",
        )
        .bind(db_id(message_id))
        .bind(db_id(channel_id))
        .bind(emoji)
        .bind(after.map_or(-1, db_id))
        .bind(i64::from(limit.clamp(1, 100)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok(from_db(r.try_get("user_id")?)))
            .collect()
    }
}
