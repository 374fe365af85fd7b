//! [`MessageStore`] for [`ScyllaMessages`]: the trait's methods in the
//! same order as the other backends, on the statements of the parent module.

use std::collections::BTreeMap;

use async_trait::async_trait;
use discord_proto::Snowflake;
use discord_proto::model::Timestamp;
use futures::{StreamExt, TryStreamExt};

use super::{COLUMNS, MessageRow, ScyllaMessages, id, to_record, walk};
use crate::message::{HistoryQuery, InsertOutcome, MessageRecord, MessageStore, ReactionCount};
use crate::{Result, StoreError};

#[async_trait]
impl MessageStore for ScyllaMessages {
    async fn insert(&self, message: &MessageRecord) -> Result<InsertOutcome> {
        if let Some(nonce) = message.nonce.as_deref() {
            match self.claim_nonce(message, nonce).await? {
                Some(existing) if existing != message.id => {
                    if let Some(first) = self.get(message.channel_id, existing).await? {
                        return Ok(InsertOutcome::Duplicate(Box::new(first)));
                    }
                    // The first send claimed the nonce but its message never
                    // landed (it failed after the claim): this send takes
                    // its place, and later retries find this one.
                    self.reclaim_nonce(message, nonce).await?;
                }
                _ => {}
            }
        }
        self.index_bucket(message.channel_id, self.buckets.bucket_of(message.id))
            .await?;
        self.write(message).await?;
        Ok(InsertOutcome::Inserted)
    }

    async fn insert_batch(&self, messages: &[MessageRecord]) -> Result<()> {
        let mut partitions: Vec<(Snowflake, u32)> = messages
            .iter()
            .map(|m| (m.channel_id, self.buckets.bucket_of(m.id)))
            .collect();
        partitions.sort_unstable();
        partitions.dedup();
        for (channel, bucket) in partitions {
            self.index_bucket(channel, bucket).await?;
        }
        // Up to 64 writes in flight (boxed so the future is Send for any
        // lifetime, which async-trait requires).
        type Write<'a> =
            std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send + 'a>>;
        let writes: Vec<Write<'_>> = messages
            .iter()
            .map(|m| Box::pin(self.write(m)) as Write<'_>)
            .collect();
        futures::stream::iter(writes)
            .buffer_unordered(64)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    async fn get(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
    ) -> Result<Option<MessageRecord>> {
        let stmt = self
            .prep(&self.stmts.get, |ks| {
                format!(
                    "SELECT {COLUMNS} FROM {ks}.messages WHERE channel_id = ? AND bucket = ? AND message_id = ?"
                )
            })
            .await?;
        let bucket = self.buckets.bucket_of(message_id) as i32;
        let rows: Vec<MessageRow> = self
            .rows(stmt, (id(channel_id), bucket, id(message_id)))
            .await?;
        rows.into_iter().next().map(to_record).transpose()
    }

    async fn edit(&self, message: &MessageRecord) -> Result<()> {
        let Some(stored) = self.get(message.channel_id, message.id).await? else {
            return Err(StoreError::NotFound("message"));
        };
        let edited = MessageRecord {
            author_id: stored.author_id,
            nonce: stored.nonce,
            ..message.clone()
        };
        self.write(&edited).await
    }

    async fn delete(&self, channel_id: Snowflake, message_id: Snowflake) -> Result<bool> {
        if self.get(channel_id, message_id).await?.is_none() {
            return Ok(false);
        }
        let stmt = self
            .prep(&self.stmts.delete, |ks| {
                format!("DELETE FROM {ks}.messages WHERE channel_id = ? AND bucket = ? AND message_id = ?")
            })
            .await?;
        let bucket = self.buckets.bucket_of(message_id) as i32;
        self.exec(stmt, (id(channel_id), bucket, id(message_id)))
            .await?;
        let stmt = self
            .prep(&self.stmts.delete_reactions, |ks| {
                format!("DELETE FROM {ks}.reactions WHERE channel_id = ? AND message_id = ?")
            })
            .await?;
        self.exec(stmt, (id(channel_id), id(message_id))).await?;
        Ok(true)
    }

    async fn bulk_delete(
        &self,
        channel_id: Snowflake,
        ids: &[Snowflake],
    ) -> Result<Vec<Snowflake>> {
        let mut deleted = Vec::new();
        for m in ids {
            if self.delete(channel_id, *m).await? {
                deleted.push(*m);
            }
        }
        Ok(deleted)
    }

    async fn history(
        &self,
        channel_id: Snowflake,
        query: HistoryQuery,
    ) -> Result<Vec<MessageRecord>> {
        query.validate()?;
        let buckets = self.channel_buckets(channel_id).await?;
        let reader = (self.clone(), channel_id);
        walk::history(&reader, self.buckets, &buckets, query).await
    }

    async fn add_reaction(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: &str,
        user_id: Snowflake,
    ) -> Result<bool> {
        if self.get(channel_id, message_id).await?.is_none() {
            return Err(StoreError::NotFound("message"));
        }
        let key = (id(channel_id), id(message_id), emoji, id(user_id));
        let found = self.reaction_exists(key).await?;
        if found {
            return Ok(false);
        }
        let stmt = self
            .prep(&self.stmts.react, |ks| {
                format!(
                    "INSERT INTO {ks}.reactions (channel_id, message_id, emoji, user_id, created_at) \
                     VALUES (?, ?, ?, ?, ?)"
                )
            })
            .await?;
        self.exec(
            stmt,
            (
                id(channel_id),
                id(message_id),
                emoji,
                id(user_id),
                Timestamp::now().unix_micros(),
            ),
        )
        .await?;
        Ok(true)
    }

    async fn remove_reaction(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: &str,
        user_id: Snowflake,
    ) -> Result<bool> {
        let key = (id(channel_id), id(message_id), emoji, id(user_id));
        let found = self.reaction_exists(key).await?;
        if !found {
            return Ok(false);
        }
        let stmt = self
            .prep(&self.stmts.unreact, |ks| {
                format!(
                    "DELETE FROM {ks}.reactions WHERE channel_id = ? AND message_id = ? \
                     AND emoji = ? AND user_id = ?"
                )
            })
            .await?;
        self.exec(stmt, key).await?;
        Ok(true)
    }

    async fn reactions(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
    ) -> Result<Vec<ReactionCount>> {
        let stmt = self
            .prep(&self.stmts.reactions, |ks| {
                format!(
                    "SELECT emoji, created_at FROM {ks}.reactions WHERE channel_id = ? AND message_id = ?"
                )
            })
            .await?;
        let rows: Vec<(String, i64)> = self.rows(stmt, (id(channel_id), id(message_id))).await?;
        let mut by_emoji: BTreeMap<String, (u32, i64)> = BTreeMap::new();
        for (emoji, at) in rows {
            let e = by_emoji.entry(emoji).or_insert((0, at));
            e.0 += 1;
            e.1 = e.1.min(at);
        }
        let mut out: Vec<ReactionCount> = by_emoji
            .into_iter()
            .map(|(emoji, (count, at))| ReactionCount {
                emoji,
                count,
                first_at: Timestamp::from_unix_micros(at),
            })
            .collect();
        out.sort_by(|a, b| {
            a.first_at
                .cmp(&b.first_at)
                .then_with(|| a.emoji.cmp(&b.emoji))
        });
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
        let stmt = self
            .prep(&self.stmts.reaction_users, |ks| {
                format!(
                    "SELECT user_id FROM {ks}.reactions WHERE channel_id = ? AND message_id = ? \
                     AND emoji = ? AND user_id > ? LIMIT ?"
                )
            })
            .await?;
        let rows: Vec<(i64,)> = self
            .rows(
                stmt,
                (
                    id(channel_id),
                    id(message_id),
                    emoji,
                    after.map_or(-1, id),
                    i32::from(limit.clamp(1, 100)),
                ),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(u,)| Snowflake::new(u as u64))
            .collect())
    }
}
