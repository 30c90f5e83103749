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
//!
//! ## Reads of an unchanged database
//!
//! [`SqliteReader::read_unchanged`] answers a read from the same connection's last answer to
//! the same read while SQLite says that nothing has been committed since: `PRAGMA
//! data_version` changes whenever another connection (sqlx's, Django's, another process's)
//! commits, and reading it opens a read transaction, as any query does, so it is never
//! behind the file. Every change to the database clears the connection's answers. It is a
//! memo of the last read, never a copy that could go stale: the pragma costs about a fifth of
//! the joined session-and-user statement (`bench/README.md`).

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags};
use std::any::Any;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Idle connections kept at most. Reads never await while they hold a connection, so no more
/// than one per thread that calls at the same moment is ever out.
const MAX_IDLE: usize = 8;

/// Answers kept per connection and scope by [`SqliteReader::read_unchanged`]; when full they are all
/// dropped (the next change of the database would drop them anyway).
const MAX_REMEMBERED: usize = 256;

/// One kept answer: the value, and the moment after which it no longer holds even if the
/// database is unchanged (a session's expiry), if there is one.
struct Remembered {
    value: Box<dyn Any + Send>,
    until: Option<DateTime<Utc>>,
}

/// A connection with the answers it gave while the database had `data_version` `version`.
struct ReaderConnection {
    conn: Connection,
    version: Option<i64>,
    remembered: HashMap<u64, HashMap<String, Remembered>>,
}

/// A few `rusqlite` connections to one SQLite file, used one at a time without waiting.
pub(crate) struct SqliteReader {
    path: PathBuf,
    idle: Mutex<Vec<ReaderConnection>>,
    closed: AtomicBool,
    remember: bool,
}

impl std::fmt::Debug for SqliteReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteReader")
            .field("path", &self.path)
            .field("remember", &self.remember)
            .finish_non_exhaustive()
    }
}

impl SqliteReader {
    /// A reader of the database file at `path`; `remember` turns on
    /// [`read_unchanged`](Self::read_unchanged)'s answers.
    pub(crate) fn new(path: &Path, remember: bool) -> Self {
        Self {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
            remember,
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

    fn open(&self) -> rusqlite::Result<ReaderConnection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::ZERO)?;
        conn.pragma_update(None, "query_only", true)?;
        conn.set_prepared_statement_cache_capacity(16);
        Ok(ReaderConnection {
            conn,
            version: None,
            remembered: HashMap::new(),
        })
    }

    /// Run `read` on an idle connection (opening one when none is idle); `None` when anything
    /// failed, for the caller to take the ordinary path.
    pub(crate) fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Option<T> {
        self.with_connection(|c| read(&c.conn))
    }

    /// Like [`read`](Self::read) for a read that finds at most one thing, named by `scope`
    /// (which read it is) and `key` (its argument): while the database has not changed and
    /// the `until` that `read` gave is after `now`, the connection's last answer is returned
    /// instead of running `read` again. Nothing found (`Ok(None)`) is not remembered.
    pub(crate) fn read_unchanged<T: Clone + Send + 'static>(
        &self,
        scope: u64,
        key: &str,
        now: DateTime<Utc>,
        read: impl FnOnce(&Connection) -> rusqlite::Result<Option<(T, Option<DateTime<Utc>>)>>,
    ) -> Option<Option<T>> {
        if !self.remember {
            return self.read(|c| Ok(read(c)?.map(|(value, _)| value)));
        }
        self.with_connection(|c| {
            let version: i64 = c
                .conn
                .prepare_cached("PRAGMA data_version")?
                .query_row([], |r| r.get(0))?;
            if c.version != Some(version) {
                c.remembered.clear();
                c.version = Some(version);
            }
            let answers = c.remembered.entry(scope).or_default();
            if let Some(kept) = answers.get(key) {
                let current = kept.until.is_none_or(|until| until > now);
                match kept.value.downcast_ref::<T>() {
                    Some(value) if current => return Ok(Some(value.clone())),
                    _ => {
                        answers.remove(key);
                    }
                }
            }
            let Some((value, until)) = read(&c.conn)? else {
                return Ok(None);
            };
            if answers.len() >= MAX_REMEMBERED {
                answers.clear();
            }
            answers.insert(
                key.to_owned(),
                Remembered {
                    value: Box::new(value.clone()),
                    until,
                },
            );
            Ok(Some(value))
        })
    }

    fn with_connection<T>(
        &self,
        read: impl FnOnce(&mut ReaderConnection) -> rusqlite::Result<T>,
    ) -> Option<T> {
        if self.closed.load(Ordering::SeqCst) {
            return None;
        }
        let taken = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let mut conn = match taken {
            Some(conn) => conn,
            None => match self.open() {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::debug!(target: "sesame_sql", "inline SQLite reader cannot open {}: {e}", self.path.display());
                    return None;
                }
            },
        };
        let result = read(&mut conn);
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
        let reader = SqliteReader::new(&path, true);
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
        let reader = SqliteReader::new(&path, true);
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
        let reader = SqliteReader::new(&path, true);
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
        let reader = SqliteReader::new(&path, true);
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
    fn remembers_reads_until_the_database_changes_or_they_expire() {
        let path = temp_db("remember");
        let runs = std::cell::Cell::new(0);
        let far = Some(Utc::now() + chrono::TimeDelta::hours(1));
        let read = |reader: &SqliteReader, scope: u64, key: &str, until| {
            reader.read_unchanged(scope, key, Utc::now(), |c| {
                runs.set(runs.get() + 1);
                let v: i64 = c
                    .query_row("SELECT v FROM t WHERE k = ?", [key], |r| r.get(0))
                    .or_else(|e| match e {
                        rusqlite::Error::QueryReturnedNoRows => Ok(-1),
                        e => Err(e),
                    })?;
                Ok((v >= 0).then_some((v, until)))
            })
        };
        let reader = SqliteReader::new(&path, true);
        assert_eq!(read(&reader, 0, "a", far), Some(Some(1)));
        assert_eq!(read(&reader, 0, "a", far), Some(Some(1)));
        assert_eq!(runs.get(), 1, "the second read is the first one's answer");
        // Another scope or key is another read; nothing found is not remembered.
        assert_eq!(read(&reader, 2, "a", far), Some(Some(1)));
        assert_eq!(read(&reader, 0, "b", far), Some(None));
        assert_eq!(read(&reader, 0, "b", far), Some(None));
        assert_eq!(runs.get(), 4);
        // A commit by another connection is seen at once.
        let writer = Connection::open(&path).expect("writer");
        writer
            .execute("UPDATE t SET v = 5 WHERE k = 'a'", [])
            .expect("update");
        assert_eq!(read(&reader, 0, "a", far), Some(Some(5)));
        assert_eq!(read(&reader, 0, "a", far), Some(Some(5)));
        assert_eq!(runs.get(), 5);
        writer
            .execute("INSERT INTO t VALUES ('b', 7)", [])
            .expect("insert");
        assert_eq!(read(&reader, 0, "b", far), Some(Some(7)));
        // An answer past its `until` is read again, even with no change.
        let past = Some(Utc::now() - chrono::TimeDelta::seconds(1));
        assert_eq!(read(&reader, 4, "a", past), Some(Some(5)));
        assert_eq!(read(&reader, 4, "a", past), Some(Some(5)));
        assert_eq!(runs.get(), 8);
        // Turned off, every read runs.
        let forgetful = SqliteReader::new(&path, false);
        assert_eq!(read(&forgetful, 0, "a", far), Some(Some(5)));
        assert_eq!(read(&forgetful, 0, "a", far), Some(Some(5)));
        assert_eq!(runs.get(), 10);
        drop(writer);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_missing_file_is_none() {
        let reader = SqliteReader::new(Path::new("/nonexistent-dir/sesame.sqlite3"), true);
        assert_eq!(
            reader.read(|c| c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))),
            None
        );
    }
}
