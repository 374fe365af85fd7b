//! SQLite's message reader: read-only rusqlite connections on the
//! database file, used on the calling thread.
//!
//! A page of history is about 0.1 ms of SQLite work. Through sqlx every
//! read also crossed to a connection's worker thread and back and waited
//! for a pool slot; on a loaded 2-core machine those hand-offs, not SQLite,
//! made a page's p99. Here the caller runs the query itself: inside a
//! multi-threaded tokio runtime through `block_in_place`, so the worker's
//! other tasks move to another thread meanwhile.
//!
//! rusqlite (0.39) is the maintained synchronous SQLite binding; this
//! version links the same `libsqlite3-sys` as sqlx, so the process still
//! holds one SQLite library.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::runtime::{Handle, RuntimeFlavor};

use super::MMAP_SIZE;
use crate::{Result, StoreError};

/// Read-only connections to one SQLite database file.
#[derive(Debug)]
pub(super) struct Reader {
    path: PathBuf,
    /// Connections not in use. A read takes one (or opens one when none
    /// is free) and puts it back, keeping at most `keep`.
    idle: Mutex<Vec<Connection>>,
    keep: usize,
}

impl Reader {
    /// A reader of the database at `path`; opens one connection now, so a
    /// path that cannot be read fails here rather than at the first read.
    pub(super) fn open(path: &Path) -> Result<Self> {
        let keep = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
        let reader = Reader {
            path: path.to_owned(),
            idle: Mutex::new(Vec::with_capacity(keep)),
            keep,
        };
        let first = reader.connect()?;
        reader.put_back(first);
        Ok(reader)
    }

    fn connect(&self) -> Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.execute_batch(&format!(
            "PRAGMA cache_size = -65536; PRAGMA mmap_size = {MMAP_SIZE}; \
             PRAGMA temp_store = MEMORY;"
        ))?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(conn)
    }

    fn put_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.keep {
            idle.push(conn);
        }
    }

    /// Runs `read` on a connection of this reader, on this thread.
    pub(super) fn read<T>(&self, read: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let run = || {
            let taken = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let conn = match taken {
                Some(conn) => conn,
                None => self.connect()?,
            };
            let out = read(&conn);
            // A connection whose read failed may be in any state: drop it.
            if out.is_ok() {
                self.put_back(conn);
            }
            out
        };
        match Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(run),
            // A current-thread runtime has no other worker to hand its
            // tasks to; the read is short, so it runs in place.
            _ => run(),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode::{CannotOpen, DatabaseBusy, DatabaseLocked, SystemIoFailure};
        match e.sqlite_error_code() {
            Some(CannotOpen | DatabaseBusy | DatabaseLocked | SystemIoFailure) => {
                StoreError::Unavailable(Box::new(e))
            }
            _ => StoreError::Backend(Box::new(e)),
        }
    }
}
