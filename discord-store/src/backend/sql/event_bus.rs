//! [`EventBus`] on SQLite: one durable log; each group stores the offset of
//! the last event it committed. One process, so one partition (0) holds
//! every channel, which orders each channel's events trivially. A group is
//! meant to have one consumer at a time here: two consumers of one group
//! each read every event (Kafka splits a group's work across partitions).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use sqlx::{AnyPool, Row};
use tokio::sync::Notify;

use super::{Engine, SqlStore, from_db};
use crate::Result;
use crate::event_bus::{BusConsumer, BusEvent, Delivery, EventBus};

#[async_trait]
impl EventBus for SqlStore {
    async fn publish(&self, event: &BusEvent) -> Result<()> {
        if let Some(writer) = &self.writer {
            // SQLite: in the same group commit as message inserts, so the
            // two never contend for the one write lock.
            return super::group_commit::submit(writer, |done| {
                super::group_commit::WriteJob::Publish(event.clone(), done)
            })
            .await;
        }
        let mut tx = self.pool.begin().await?;
        if self.engine == Engine::Postgres {
            // Offsets come from a sequence; without this lock a consumer
            // could read offset n+1 committed while n is still in flight,
            // and skip n. Holding it to commit makes commit order offset
            // order. (SQLite has one writer at a time already.)
            sqlx::query("SELECT pg_advisory_xact_lock(7251120)")
                .execute(&mut *tx)
                .await?;
        }
        super::messages::publish_on(&mut tx, event).await?;
        tx.commit().await?;
        self.bus_notify.notify_waiters();
        Ok(())
    }

    async fn consumer(&self, group: &str) -> Result<Box<dyn BusConsumer>> {
        let committed: Option<i64> =
            sqlx::query_scalar("SELECT \"offset\" FROM bus_offsets WHERE group_name = $1")
                .bind(group)
                .fetch_optional(&self.pool)
                .await?;
        Ok(Box::new(SqlConsumer {
            pool: self.pool.clone(),
            notify: Arc::clone(&self.bus_notify),
            group: group.to_owned(),
            position: committed.unwrap_or(0),
            buffer: VecDeque::new(),
        }))
    }
}

struct SqlConsumer {
    pool: AnyPool,
    notify: Arc<Notify>,
    group: String,
    /// The offset of the last event handed out.
    position: i64,
    buffer: VecDeque<Delivery>,
}

impl SqlConsumer {
    async fn fill(&mut self) -> Result<()> {
        let rows = sqlx::query(
            "SELECT \"offset\", channel_id, kind, payload FROM bus_events
             WHERE \"offset\" > $1 ORDER BY \"offset\" LIMIT 256",
        )
        .bind(self.position)
        .fetch_all(&self.pool)
        .await?;
        for row in rows {
            let offset: i64 = row.try_get("offset")?;
            let payload: Vec<u8> = row.try_get("payload")?;
            self.position = offset;
            self.buffer.push_back(Delivery {
                event: BusEvent {
                    channel_id: from_db(row.try_get("channel_id")?),
                    kind: row.try_get("kind")?,
                    payload: Bytes::from(payload),
                },
                partition: 0,
                offset,
            });
        }
        Ok(())
    }
}

#[async_trait]
impl BusConsumer for SqlConsumer {
    async fn next(&mut self, timeout: Duration) -> Result<Option<Delivery>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(d) = self.buffer.pop_front() {
                return Ok(Some(d));
            }
            // Register interest before looking, so a publish between the
            // query and the wait is not missed.
            let notify = Arc::clone(&self.notify);
            let notified = notify.notified();
            self.fill().await?;
            if !self.buffer.is_empty() {
                continue;
            }
            // Publishers in other processes do not notify us; poll too.
            let wake = tokio::time::Instant::now() + Duration::from_millis(50);
            if tokio::time::timeout_at(wake.min(deadline), notified)
                .await
                .is_err()
                && tokio::time::Instant::now() >= deadline
            {
                return Ok(None);
            }
        }
    }

    async fn commit(&mut self, delivery: &Delivery) -> Result<()> {
        sqlx::query(
            "INSERT INTO bus_offsets (group_name, \"offset\") VALUES ($1, $2)
             ON CONFLICT (group_name) DO UPDATE SET \"offset\" = CASE
                 WHEN excluded.\"offset\" > bus_offsets.\"offset\" THEN excluded.\"offset\"
                 ELSE bus_offsets.\"offset\" END",
        )
        .bind(&self.group)
        .bind(delivery.offset)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
