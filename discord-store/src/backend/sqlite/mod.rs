//! The embedded default: SQLite through sqlx, in WAL mode, for messages,
//! guild data and the durable event bus.

mod event_bus;
mod guild;
mod messages;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use discord_proto::Snowflake;
use discord_snowflake::TimeBuckets;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::Notify;

use crate::{Result, StoreError};

/// How durable a commit is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=NORMAL` in WAL mode: a commit survives the process
    /// crashing; the last commits may be lost if the machine loses power.
    #[default]
    Process,
    /// `synchronous=FULL`: a commit also survives power loss, at some cost
    /// in write throughput.
    PowerLoss,
}

/// Messages, guild data and the event bus in one SQLite database.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    buckets: TimeBuckets,
    bus_notify: Arc<Notify>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and brings its
    /// schema up to date.
    pub async fn open(path: &Path, durability: Durability) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true);
        Self::with_options(options, durability, TimeBuckets::default()).await
    }

    /// Opens a database from a `sqlite:` URL.
    pub async fn connect(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?.create_if_missing(true);
        Self::with_options(options, Durability::default(), TimeBuckets::default()).await
    }

    /// Opens with explicit options and time buckets (tests use narrow
    /// buckets to spread messages over many partitions).
    pub async fn with_options(
        options: SqliteConnectOptions,
        durability: Durability,
        buckets: TimeBuckets,
    ) -> Result<Self> {
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match durability {
                Durability::Process => SqliteSynchronous::Normal,
                Durability::PowerLoss => SqliteSynchronous::Full,
            })
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        Ok(SqliteStore {
            pool,
            buckets,
            bus_notify: Arc::new(Notify::new()),
        })
    }

    /// The time buckets used for the `bucket` column.
    pub fn buckets(&self) -> TimeBuckets {
        self.buckets
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A snowflake as the signed 64-bit integer SQL stores.
pub(crate) fn db_id(id: Snowflake) -> i64 {
    // Our snowflakes use 63 bits (42-bit time), so this never wraps.
    id.get() as i64
}

/// A snowflake read back from SQL.
pub(crate) fn from_db(id: i64) -> Snowflake {
    Snowflake::new(id as u64)
}
