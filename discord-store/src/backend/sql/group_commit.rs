//! SQLite's group-commit writer: the one task that writes message inserts
//! and bus events. SQLite has one writer at a time, so instead of many
//! small transactions contending for the lock, the writer takes every write
//! waiting, stores them with a few multi-row statements in one transaction
//! and answers each caller after the commit. Nothing is acknowledged before
//! it is durable.
//!
//! Each statement is a round trip to sqlx's SQLite worker thread (two
//! thread wake-ups), which costs more than preparing a statement, so the
//! writer sends as few as it can: one multi-row INSERT per `MAX_CHUNK` rows,
//! and a batch that fits in one statement runs without BEGIN/COMMIT (one
//! statement is its own transaction). Statements of up to `CACHED_ROWS`
//! rows and of `MAX_CHUNK` rows stay in sqlx's statement cache; other sizes
//! are prepared for the one batch (measured: splitting a batch into cached
//! power-of-two statements instead was 35% slower with 8 writers).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use discord_snowflake::TimeBuckets;
use sqlx::any::AnyArguments;
use sqlx::{AnyConnection, AnyPool, Row};
use tokio::sync::{Notify, mpsc, oneshot};

use super::messages::{bind_message, insert_on, insert_rows, resolve_conflict};
use super::{Engine, db_id};
use crate::event_bus::BusEvent;
use crate::message::{InsertOutcome, MessageRecord};
use crate::{Result, StoreError};

/// A write waiting for its commit: a message insert or a bus event.
pub(super) enum WriteJob {
    /// A message insert.
    Insert(Box<MessageRecord>, oneshot::Sender<Result<InsertOutcome>>),
    /// An event-bus append.
    Publish(BusEvent, oneshot::Sender<Result<()>>),
    /// A batch of messages, stored in one transaction of its own.
    Batch(Vec<MessageRecord>, oneshot::Sender<Result<()>>),
}

/// Hands a job (made with its answer channel) to the writer and waits for
/// the answer, which comes after the job's commit.
pub(super) async fn submit<T>(
    writer: &mpsc::Sender<WriteJob>,
    job: impl FnOnce(oneshot::Sender<Result<T>>) -> WriteJob,
) -> Result<T> {
    let stopped = || StoreError::Unavailable("the SQLite writer task stopped".into());
    let (done, answer) = oneshot::channel();
    writer.send(job(done)).await.map_err(|_| stopped())?;
    answer.await.map_err(|_| stopped())?
}

/// A write that shares the group commit (every job but a batch).
enum GroupJob {
    Insert(Box<MessageRecord>, oneshot::Sender<Result<InsertOutcome>>),
    Publish(BusEvent, oneshot::Sender<Result<()>>),
}

/// The most writes taken into one transaction.
const MAX_BATCH: usize = 512;

/// The largest multi-row statement, in rows (8 parameters a row for
/// messages, far below SQLite's limit of 32,766).
const MAX_CHUNK: usize = 128;

/// Statements of up to this many rows are kept prepared (with `MAX_CHUNK`,
/// 2 x 33 of the 100 statements sqlx caches per connection).
const CACHED_ROWS: usize = 32;

/// Splits `n` rows into statements: `MAX_CHUNK`s, then the rest.
fn chunk_sizes(n: usize) -> impl Iterator<Item = usize> {
    let full = n / MAX_CHUNK;
    let rest = n % MAX_CHUNK;
    std::iter::repeat_n(MAX_CHUNK, full).chain((rest > 0).then_some(rest))
}

/// A statement of `rows` rows, kept in sqlx's cache only for the sizes that
/// recur.
fn statement(sql: String, rows: usize) -> sqlx::query::Query<'static, sqlx::Any, AnyArguments> {
    sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(rows <= CACHED_ROWS || rows == MAX_CHUNK)
}

/// The multi-row message INSERT for `rows` rows; rows that conflict are
/// skipped and the stored IDs returned.
fn insert_sql(rows: usize) -> String {
    let mut sql = super::messages::multi_row_insert(rows, Engine::Sqlite);
    sql.push_str(" ON CONFLICT DO NOTHING RETURNING id");
    sql
}

/// The multi-row bus INSERT for `rows` rows, which keeps the rows' order in
/// the log.
fn publish_sql(rows: usize) -> String {
    let values = vec!["(?, ?, ?)"; rows].join(", ");
    format!("INSERT INTO bus_events (channel_id, kind, payload) VALUES {values}")
}

/// Stores `messages` with one statement and answers for each: inserted, or
/// (for a nonce its author already used here) the earlier message.
async fn insert_chunk(
    conn: &mut AnyConnection,
    buckets: TimeBuckets,
    messages: &[&MessageRecord],
) -> Result<Vec<Result<InsertOutcome>>> {
    let mut q = statement(insert_sql(messages.len()), messages.len());
    for m in messages {
        q = bind_message(q, buckets, m)?;
    }
    let stored: HashSet<i64> = q
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| row.try_get::<i64, _>(0))
        .collect::<std::result::Result<_, _>>()?;
    let mut outcomes = Vec::with_capacity(messages.len());
    for m in messages {
        outcomes.push(if stored.contains(&db_id(m.id)) {
            Ok(InsertOutcome::Inserted)
        } else {
            resolve_conflict(conn, m).await
        });
    }
    Ok(outcomes)
}

/// Stores the inserts in `messages`, falling back to one statement a row
/// for a chunk whose statement failed (so one bad row fails alone).
async fn insert_all(
    conn: &mut AnyConnection,
    buckets: TimeBuckets,
    messages: &[&MessageRecord],
) -> Vec<Result<InsertOutcome>> {
    let mut outcomes = Vec::with_capacity(messages.len());
    let mut rest = messages;
    for size in chunk_sizes(messages.len()) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        match insert_chunk(conn, buckets, chunk).await {
            Ok(answers) => outcomes.extend(answers),
            Err(_) => {
                for m in chunk {
                    outcomes.push(insert_on(conn, buckets, m).await);
                }
            }
        }
    }
    outcomes
}

/// Appends `events` to the bus log in order.
async fn publish_all(conn: &mut AnyConnection, events: &[&BusEvent]) -> Result<()> {
    let mut rest = events;
    for size in chunk_sizes(events.len()) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let mut q = statement(publish_sql(size), size);
        for e in chunk {
            q = q
                .bind(db_id(e.channel_id))
                .bind(e.kind.as_str())
                .bind(e.payload.as_ref());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Writes one batch; `Ok` holds the inserts' outcomes in order and means
/// everything in the batch is committed.
async fn write_batch(
    conn: &mut AnyConnection,
    buckets: TimeBuckets,
    batch: &[GroupJob],
) -> Result<Vec<Result<InsertOutcome>>> {
    let mut messages = Vec::with_capacity(batch.len());
    let mut events = Vec::new();
    for job in batch {
        match job {
            GroupJob::Insert(m, _) => messages.push(&**m),
            GroupJob::Publish(e, _) => events.push(e),
        }
    }
    if events.is_empty() && messages.len() <= MAX_CHUNK {
        // One statement: its own transaction, committed when it returns.
        return Ok(insert_all(conn, buckets, &messages).await);
    }
    // Dropped without a commit (an error below), the transaction rolls back.
    let mut tx = sqlx::Connection::begin(conn).await?;
    let outcomes = insert_all(&mut tx, buckets, &messages).await;
    // A failed append fails the whole batch: the bus must not skip an event
    // that others after it made.
    publish_all(&mut tx, &events).await?;
    tx.commit().await?;
    Ok(outcomes)
}

/// The writer task: takes up to `MAX_BATCH` waiting writes in arrival
/// order, writes them in one transaction and answers each after the commit
/// (a batch of messages gets a transaction of its own, in its place in the
/// order, so its failure fails only it).
/// It also checkpoints the WAL in the background every second, on another
/// connection (so on another of sqlx's SQLite threads), so writers rarely
/// reach the auto-checkpoint threshold and stall on it inline.
pub(super) async fn group_commit_writer(
    pool: AnyPool,
    buckets: TimeBuckets,
    bus_notify: Arc<Notify>,
    mut jobs: mpsc::Receiver<WriteJob>,
) {
    let mut batch: Vec<WriteJob> = Vec::with_capacity(MAX_BATCH);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let checkpointing = Arc::new(AtomicBool::new(false));
    // The writer's own connection, taken out of the pool: SQLite keeps a
    // page cache per connection and empties it when another connection
    // wrote since, so writing every batch on the same connection keeps the
    // pages it touches cached.
    let mut writer = Writer {
        pool: pool.clone(),
        conn: None,
        buckets,
        bus_notify,
    };
    loop {
        tokio::select! {
            received = jobs.recv_many(&mut batch, MAX_BATCH) => {
                if received == 0 {
                    return;
                }
            }
            _ = tick.tick() => {
                if !checkpointing.swap(true, Ordering::AcqRel) {
                    let pool = pool.clone();
                    let flag = Arc::clone(&checkpointing);
                    tokio::spawn(async move {
                        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
                            tracing::warn!(error = %e, "background WAL checkpoint failed");
                        }
                        flag.store(false, Ordering::Release);
                    });
                }
                continue;
            }
        }
        let mut group = Vec::with_capacity(batch.len());
        for job in batch.drain(..) {
            match job {
                WriteJob::Insert(m, done) => group.push(GroupJob::Insert(m, done)),
                WriteJob::Publish(e, done) => group.push(GroupJob::Publish(e, done)),
                WriteJob::Batch(rows, done) => {
                    // The writes before it commit first: the order holds.
                    writer.group(std::mem::take(&mut group)).await;
                    let _ = done.send(writer.rows(&rows).await);
                }
            }
        }
        writer.group(group).await;
    }
}

/// The writer's connection and what it writes.
struct Writer {
    pool: AnyPool,
    conn: Option<AnyConnection>,
    buckets: TimeBuckets,
    /// Woken after a commit that published bus events.
    bus_notify: Arc<Notify>,
}

impl Writer {
    /// The writer's connection, taken from the pool the first time and
    /// after an error.
    async fn conn(&mut self) -> Result<&mut AnyConnection> {
        if self.conn.is_none() {
            self.conn = Some(self.pool.acquire().await?.detach());
        }
        Ok(self.conn.as_mut().expect("set above"))
    }

    /// Drops the connection after a failed write, in case it broke.
    fn check<T>(&mut self, written: Result<T>) -> Result<T> {
        if written.is_err() {
            self.conn = None;
        }
        written
    }

    /// Stores a batch of messages in a transaction of its own.
    async fn rows(&mut self, rows: &[MessageRecord]) -> Result<()> {
        let buckets = self.buckets;
        let written = match self.conn().await {
            Ok(conn) => insert_rows(conn, Engine::Sqlite, buckets, rows).await,
            Err(e) => Err(e),
        };
        self.check(written)
    }

    /// Writes single inserts and bus events in one transaction and answers
    /// each.
    async fn group(&mut self, group: Vec<GroupJob>) {
        if group.is_empty() {
            return;
        }
        let buckets = self.buckets;
        let written = match self.conn().await {
            Ok(conn) => write_batch(conn, buckets, &group).await,
            Err(e) => Err(e),
        };
        match self.check(written) {
            Ok(outcomes) => {
                let mut outcomes = outcomes.into_iter();
                let mut published = false;
                for job in group {
                    match job {
                        GroupJob::Insert(_, done) => {
                            let outcome = outcomes.next().unwrap_or_else(|| {
                                Err(StoreError::Backend("group commit lost an outcome".into()))
                            });
                            let _ = done.send(outcome);
                        }
                        GroupJob::Publish(_, done) => {
                            published = true;
                            let _ = done.send(Ok(()));
                        }
                    }
                }
                if published {
                    self.bus_notify.notify_waiters();
                }
            }
            Err(e) => {
                let text = e.to_string();
                let fail = || StoreError::Unavailable(format!("commit failed: {text}").into());
                for job in group {
                    match job {
                        GroupJob::Insert(_, done) => {
                            let _ = done.send(Err(fail()));
                        }
                        GroupJob::Publish(_, done) => {
                            let _ = done.send(Err(fail()));
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_batch() {
        for n in 0..1000 {
            let sizes: Vec<usize> = chunk_sizes(n).collect();
            assert_eq!(sizes.iter().sum::<usize>(), n, "{n}: {sizes:?}");
            assert!(sizes.iter().all(|s| (1..=MAX_CHUNK).contains(s)));
            assert_eq!(sizes.len(), n.div_ceil(MAX_CHUNK), "{n}: {sizes:?}");
        }
        assert_eq!(chunk_sizes(37).collect::<Vec<_>>(), [37]);
        assert_eq!(chunk_sizes(300).collect::<Vec<_>>(), [128, 128, 44]);
    }

    #[test]
    fn statements_have_one_placeholder_per_parameter() {
        for rows in [1, 2, 37, MAX_CHUNK] {
            assert_eq!(insert_sql(rows).matches('?').count(), rows * 8);
            assert_eq!(publish_sql(rows).matches('?').count(), rows * 3);
        }
    }
}
