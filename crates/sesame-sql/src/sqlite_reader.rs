//! The read on every authenticated request, run on the caller's own thread for SQLite files.
//!
//! sqlx's SQLite driver gives each connection a worker thread and sends it every statement
//! over a channel: a query is a wake-up of that thread and one back, two context switches,
//! whatever the query costs. For the primary-key lookups of a session and its user, which
//! SQLite answers from the page cache in a few microseconds, those switches cost more than
//! the query (measured with `bench/run-load.sh`: more than half of an authenticated request's
//! CPU was the kernel switching threads). No async SQLite library avoids the hand-off, so this
//! module keeps a few plain `rusqlite` connections to the same file and runs the read inline,
//! the way a thread-per-request server would.
//!
//! It never waits: the connections have no busy timeout, and any error at all (a lock held
//! during a WAL reset, a missing table, an I/O error) is answered with `None`, so that the
//! caller takes the sqlx path, which waits, retries and reports typed errors as everything
//! else does. The connections are `query_only`, so this path cannot write.

use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Idle connections kept at most. Reads never await while they hold a connection, so no more
/// than one per thread that calls at the same moment is ever out.
const MAX_IDLE: usize = 8;

/// A few `rusqlite` connections to one SQLite file, used one at a time without waiting.
pub(crate) struct SqliteReader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    closed: AtomicBool,
}

impl std::fmt::Debug for SqliteReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteReader")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteReader {
    /// A reader of the database file at `path`.
    pub(crate) fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
        }
    }

    /// Close the idle connections; every later read answers `None`, so that the caller gets
    /// the closed pool's error as before.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// Connections kept for the next read.
    #[cfg(test)]
    pub(crate) fn idle_connections(&self) -> usize {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::ZERO)?;
        conn.pragma_update(None, "query_only", true)?;
        conn.set_prepared_statement_cache_capacity(16);
        Ok(conn)
    }

    /// Run `read` on an idle connection (opening one when none is idle); `None` when anything
    /// failed, for the caller to take the ordinary path.
    pub(crate) fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Option<T> {
        if self.closed.load(Ordering::SeqCst) {
            return None;
        }
        let taken = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let conn = match taken {
            Some(conn) => conn,
            None => match self.open() {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::debug!(target: "sesame_sql", "inline SQLite reader cannot open {}: {e}", self.path.display());
                    return None;
                }
            },
        };
        let result = read(&conn);
        match result {
            Ok(value) => {
                let mut idle = self
                    .idle
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if idle.len() < MAX_IDLE {
                    idle.push(conn);
                }
                Some(value)
            }
            Err(e) => {
                // The connection is dropped rather than kept: after an error its state is not
                // worth reasoning about, and opening another costs less than a request.
                tracing::debug!(target: "sesame_sql", "inline SQLite read failed, using the pool: {e}");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_db(name: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "sesame-reader-{name}-{}-{}.sqlite3",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        let conn = Connection::open(&path).expect("create the test database");
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER); \
             INSERT INTO t VALUES ('a', 1);",
        )
        .expect("fill the test database");
        path
    }

    #[test]
    fn reads_and_reuses_a_connection() {
        let path = temp_db("reuse");
        let reader = SqliteReader::new(&path);
        for _ in 0..3 {
            let v = reader
                .read(|c| c.query_row("SELECT v FROM t WHERE k = 'a'", [], |r| r.get::<_, i64>(0)));
            assert_eq!(v, Some(1));
        }
        assert_eq!(reader.idle_connections(), 1);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn cannot_write() {
        let path = temp_db("readonly");
        let reader = SqliteReader::new(&path);
        assert_eq!(reader.read(|c| c.execute("DELETE FROM t", [])), None);
        let conn = Connection::open(&path).expect("reopen");
        let n: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 1);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_held_write_lock_does_not_wait() {
        let path = temp_db("locked");
        // A rollback-journal exclusive lock blocks readers; the reader must give up at once.
        let writer = Connection::open(&path).expect("writer");
        writer
            .execute_batch("PRAGMA journal_mode = DELETE; PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; UPDATE t SET v = 2;")
            .expect("lock the database");
        let reader = SqliteReader::new(&path);
        let started = std::time::Instant::now();
        assert_eq!(
            reader.read(|c| c.query_row("SELECT v FROM t", [], |r| r.get::<_, i64>(0))),
            None
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        drop(writer);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_closed_reader_reads_nothing() {
        let path = temp_db("closed");
        let reader = SqliteReader::new(&path);
        let read = |r: &SqliteReader| {
            r.read(|c| c.query_row("SELECT v FROM t", [], |r| r.get::<_, i64>(0)))
        };
        assert_eq!(read(&reader), Some(1));
        reader.close();
        assert_eq!(reader.idle_connections(), 0);
        assert_eq!(read(&reader), None);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_missing_file_is_none() {
        let reader = SqliteReader::new(Path::new("/nonexistent-dir/sesame.sqlite3"));
        assert_eq!(
            reader.read(|c| c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))),
            None
        );
    }
}
