//! The SQL backend through sqlx: SQLite (the embedded default, in WAL mode)
//! and PostgreSQL (cluster mode, with the `postgres` feature), one code path
//! on sqlx's `Any` driver. Both store messages, guild data and a durable
//! event bus; each has its own migrations folder.
//!
//! The SQL is written to run unchanged on both: `$N` placeholders (which
//! sqlx's SQLite driver maps by number), `ON CONFLICT`, no engine-specific
//! functions. The few differences (pragmas, the bus's publish lock) are
//! chosen by [`Engine`].

mod event_bus;
mod group_commit;
mod guild;
mod messages;
mod reader;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use discord_proto::Snowflake;
use discord_snowflake::TimeBuckets;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use tokio::sync::Notify;

use crate::{Result, StoreError};

/// How durable a SQLite commit is (PostgreSQL follows its server settings).
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

/// Which SQL engine a [`SqlStore`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// SQLite (embedded).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// Messages, guild data and the event bus in one SQL database.
#[derive(Clone, Debug)]
pub struct SqlStore {
    pool: AnyPool,
    engine: Engine,
    buckets: TimeBuckets,
    bus_notify: Arc<Notify>,
    /// SQLite's group-commit writer for message inserts and bus events.
    writer: Option<tokio::sync::mpsc::Sender<group_commit::WriteJob>>,
    /// SQLite's reader for messages (history pages, single messages): the
    /// caller runs the query on its own thread, with no hand-off to a
    /// worker. `None` on PostgreSQL and for in-memory databases (another
    /// connection would open another database).
    reader: Option<Arc<reader::Reader>>,
}

impl SqlStore {
    /// Opens (creating if needed) the SQLite database file at `path` and
    /// brings its schema up to date.
    pub async fn open_sqlite(path: &Path, durability: Durability) -> Result<Self> {
        let url = format!("sqlite://{}?mode=rwc", path.display());
        Self::connect_with(&url, durability, TimeBuckets::default()).await
    }

    /// Connects to a `sqlite:` or `postgres:` URL and brings the schema up
    /// to date.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, Durability::default(), TimeBuckets::default()).await
    }

    /// [`SqlStore::connect`] with explicit SQLite durability and time
    /// buckets.
    pub async fn connect_with(
        url: &str,
        durability: Durability,
        buckets: TimeBuckets,
    ) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let engine = if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            if !cfg!(feature = "postgres") {
                return Err(StoreError::Invalid(
                    "PostgreSQL support needs discord-store's `postgres` feature".into(),
                ));
            }
            Engine::Postgres
        } else {
            return Err(StoreError::Invalid(format!(
                "unsupported database URL (expected sqlite: or postgres:): {url}"
            )));
        };
        let options: AnyConnectOptions = url.parse()?;
        let synchronous = match durability {
            Durability::Process => "NORMAL",
            Durability::PowerLoss => "FULL",
        };
        let pragmas: Arc<str> = format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; \
             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
             PRAGMA cache_size = -65536; PRAGMA mmap_size = {MMAP_SIZE}; \
             PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 10000;"
        )
        .into();
        let pool = AnyPoolOptions::new()
            .max_connections(match engine {
                Engine::Sqlite => 8,
                Engine::Postgres => 16,
            })
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                let pragmas = Arc::clone(&pragmas);
                Box::pin(async move {
                    if engine == Engine::Sqlite {
                        conn.execute(sqlx::AssertSqlSafe(pragmas.to_string()))
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let migrator = match engine {
            Engine::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Engine::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        migrator
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let bus_notify = Arc::new(Notify::new());
        let writer = (engine == Engine::Sqlite).then(|| {
            let (tx, rx) = tokio::sync::mpsc::channel(4096);
            tokio::spawn(group_commit::group_commit_writer(
                pool.clone(),
                buckets,
                Arc::clone(&bus_notify),
                rx,
            ));
            tx
        });
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let reader = if engine == Engine::Sqlite && !in_memory {
            Some(Arc::new(sqlite_reader(url)?))
        } else {
            None
        };
        Ok(SqlStore {
            pool,
            engine,
            buckets,
            bus_notify,
            writer,
            reader,
        })
    }

    /// The engine behind this store.
    pub fn engine(&self) -> Engine {
        self.engine
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

/// SQLite's memory map per connection, in bytes: reads of mapped pages
/// are memory accesses instead of `read` calls.
const MMAP_SIZE: u64 = 1 << 30;

/// SQLite's message reader on the file `url` names.
fn sqlite_reader(url: &str) -> Result<reader::Reader> {
    use std::str::FromStr;
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?;
    reader::Reader::open(options.get_filename())
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
