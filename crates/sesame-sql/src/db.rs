//! The connection: one of three sqlx pools, the SQL dialect differences, and the mapping of
//! driver errors to Sesame's typed errors.

use chrono::{DateTime, Utc};
use sesame_core::auth::AuthStoreError;
use sesame_core::session::StoreError;
#[cfg(feature = "mysql")]
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
#[cfg(feature = "postgres")]
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
#[cfg(feature = "sqlite")]
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
use std::str::FromStr;
use std::time::Duration;

// Without a dialect the crate has no pool to hold; say so at once rather than through a
// cascade of type errors.
#[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
compile_error!("sesame-sql needs at least one of the features `sqlite`, `postgres`, `mysql`");

/// The database behind a store. Every dialect is named whether or not its driver is compiled
/// in (features `sqlite`, `postgres`, `mysql`), so code matching on it builds under any set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite (the embedded default).
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    MySql,
}

impl Backend {
    /// The name used in messages, which is also the name of the crate feature that compiles
    /// its driver in.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::MySql => "mysql",
        }
    }

    /// Whether this build has the dialect's driver (its crate feature is on).
    pub fn is_compiled_in(self) -> bool {
        match self {
            Backend::Sqlite => cfg!(feature = "sqlite"),
            Backend::Postgres => cfg!(feature = "postgres"),
            Backend::MySql => cfg!(feature = "mysql"),
        }
    }

    /// The dialect a database URL names by its scheme (`sqlite:`, `postgres:` or
    /// `postgresql:`, `mysql:` or `mariadb:`), compiled in or not.
    pub fn from_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Backend::Postgres)
        } else if url.starts_with("mysql:") || url.starts_with("mariadb:") {
            Some(Backend::MySql)
        } else {
            None
        }
    }
}

/// One pool per compiled-in dialect.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
}

/// Run the same code against whichever pool is configured. Each arm is type-checked against
/// its own driver, so the body can use driver-specific types through the traits below.
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match &$db.pool {
            #[cfg(feature = "sqlite")]
            $crate::db::Pool::Sqlite($pool) => $body,
            #[cfg(feature = "postgres")]
            $crate::db::Pool::Postgres($pool) => $body,
            #[cfg(feature = "mysql")]
            $crate::db::Pool::MySql($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// Why connecting failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL is not `sqlite://`, `postgres://` or `mysql://`.
    #[error("unsupported database URL {0:?}: use sqlite://path, postgres://... or mysql://...")]
    UnsupportedUrl(String),
    /// The URL names a dialect whose driver this build leaves out.
    #[error(
        "the database URL is for {backend}, which this build does not include: enable the \
         `{backend}` feature of sesame-sql (or of sesame)"
    )]
    NotCompiledIn {
        /// The dialect, also the feature's name (`sqlite`, `postgres`, `mysql`).
        backend: &'static str,
    },
    /// The URL could not be parsed.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// The database did not answer.
    #[error("cannot connect to the {backend} database: {source}")]
    Connect {
        /// Which database.
        backend: &'static str,
        /// The driver's error.
        source: sqlx::Error,
    },
}

/// A pool and its dialect.
#[derive(Debug, Clone)]
pub struct Db {
    pub(crate) pool: Pool,
    backend: Backend,
    /// For a SQLite file: the inline reader of the request path (see `sqlite_reader`).
    #[cfg(feature = "sqlite")]
    reader: Option<std::sync::Arc<crate::sqlite_reader::SqliteReader>>,
}

/// Pool settings.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Connections kept at most.
    pub max_connections: u32,
    /// How long to wait for a connection before reporting the store unavailable.
    pub acquire_timeout: Duration,
    /// SQLite files only: run the read of every authenticated request on the calling thread
    /// (see the crate documentation; default `true`). Turn it off where a read may have to
    /// wait for a slow disk, which would then hold up the async worker it runs on.
    pub sqlite_inline_reads: bool,
    /// With inline reads: answer the read of a request from the last identical one while
    /// SQLite's `data_version` says nothing was committed since and the session has not
    /// expired (default `true`). Every commit by any connection or process clears them.
    pub sqlite_unchanged_reads: bool,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            sqlite_inline_reads: true,
            sqlite_unchanged_reads: true,
        }
    }
}

impl Db {
    /// Connect to `sqlite://path` (created if missing), `postgres://...` or `mysql://...`.
    /// A URL whose dialect is not compiled in fails with [`ConnectError::NotCompiledIn`].
    pub async fn connect(url: &str, settings: PoolSettings) -> Result<Self, ConnectError> {
        let Some(backend) = Backend::from_url(url) else {
            return Err(ConnectError::UnsupportedUrl(url.to_owned()));
        };
        match backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => Self::connect_sqlite(url, settings).await,
            #[cfg(feature = "postgres")]
            Backend::Postgres => {
                let opts = PgConnectOptions::from_str(url).map_err(invalid_url)?;
                let pool = PgPoolOptions::new()
                    .max_connections(settings.max_connections)
                    .acquire_timeout(settings.acquire_timeout)
                    .connect_with(opts)
                    .await
                    .map_err(|source| ConnectError::Connect {
                        backend: "postgres",
                        source,
                    })?;
                Ok(Self::from_pool(Pool::Postgres(pool), backend))
            }
            #[cfg(feature = "mysql")]
            Backend::MySql => {
                let url = url.replacen("mariadb:", "mysql:", 1);
                // Django stores naive UTC in MySQL; the session time zone must not shift it.
                let opts = MySqlConnectOptions::from_str(&url)
                    .map_err(invalid_url)?
                    .timezone(Some("+00:00".into()));
                let pool = MySqlPoolOptions::new()
                    .max_connections(settings.max_connections)
                    .acquire_timeout(settings.acquire_timeout)
                    .connect_with(opts)
                    .await
                    .map_err(|source| ConnectError::Connect {
                        backend: "mysql",
                        source,
                    })?;
                Ok(Self::from_pool(Pool::MySql(pool), backend))
            }
            #[allow(unreachable_patterns)] // with all three dialects compiled in
            other => Err(ConnectError::NotCompiledIn {
                backend: other.name(),
            }),
        }
    }

    /// A pool without the inline SQLite reader.
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    fn from_pool(pool: Pool, backend: Backend) -> Self {
        Self {
            pool,
            backend,
            #[cfg(feature = "sqlite")]
            reader: None,
        }
    }

    /// `sqlite://path`: the sqlx pool and, for a file, the inline reader.
    #[cfg(feature = "sqlite")]
    async fn connect_sqlite(url: &str, settings: PoolSettings) -> Result<Self, ConnectError> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(invalid_url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        // An in-memory database exists only inside sqlx's own connections; a custom VFS or
        // `immutable` would be opened differently by the reader than by sqlx.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let special = url.contains("vfs=") || url.contains("immutable=");
        let mut reader = None;
        if settings.sqlite_inline_reads && !in_memory && !special {
            reader = Some(std::sync::Arc::new(
                crate::sqlite_reader::SqliteReader::new(
                    opts.get_filename(),
                    settings.sqlite_unchanged_reads,
                ),
            ));
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            // A connection to a local file does not go stale the way a socket does, and
            // sqlx's ping before each acquire is one more trip to the connection's worker
            // thread on every query (measured: a fifth of an authenticated request).
            .test_before_acquire(false)
            .connect_with(opts)
            .await
            .map_err(|source| ConnectError::Connect {
                backend: "sqlite",
                source,
            })?;
        Ok(Self {
            pool: Pool::Sqlite(pool),
            backend: Backend::Sqlite,
            reader,
        })
    }

    /// The inline reader, for a SQLite file.
    #[cfg(feature = "sqlite")]
    pub(crate) fn sqlite_reader(&self) -> Option<&crate::sqlite_reader::SqliteReader> {
        self.reader.as_deref()
    }

    /// The same pool with the inline reader replaced (`None`: every read through sqlx), and
    /// whether it remembers reads of an unchanged database.
    #[cfg(all(test, feature = "sqlite"))]
    pub(crate) fn with_sqlite_reader_at(
        mut self,
        path: Option<&std::path::Path>,
        remember: bool,
    ) -> Self {
        self.reader =
            path.map(|p| std::sync::Arc::new(crate::sqlite_reader::SqliteReader::new(p, remember)));
        self
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The statement with `?` placeholders turned into `$1, $2, ...` for PostgreSQL.
    pub(crate) fn sql(&self, sql: &str) -> String {
        if self.backend != Backend::Postgres {
            return sql.to_owned();
        }
        let mut out = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(c);
            }
        }
        out
    }

    /// Run one statement without parameters (DDL, administration); returns the rows affected.
    pub async fn execute_raw(&self, sql: &str) -> Result<u64, sqlx::Error> {
        with_pool!(self, p => sqlx::raw_sql(sql).execute(p).await.map(|r| r.rows_affected()))
    }

    /// Whether `table` exists (a query that reads no rows; an error means "no").
    pub async fn table_exists(&self, table: &str) -> bool {
        let probe = format!("SELECT 1 FROM {table} WHERE 1 = 0");
        with_pool!(self, p => sqlx::query(&probe).fetch_optional(p).await.is_ok())
    }

    /// Close the pool.
    pub async fn close(&self) {
        #[cfg(feature = "sqlite")]
        if let Some(reader) = &self.reader {
            reader.close();
        }
        with_pool!(self, p => p.close().await)
    }
}

/// A URL the driver could not read.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
fn invalid_url(e: sqlx::Error) -> ConnectError {
    ConnectError::InvalidUrl(e.to_string())
}

/// Whether a driver error means "cannot reach the database" (503, retry later).
pub(crate) fn is_unavailable(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed
    )
}

/// Whether a driver error is a unique-constraint violation.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => d.is_unique_violation(),
        _ => false,
    }
}

impl From<SqlError> for StoreError {
    fn from(e: SqlError) -> Self {
        if is_unavailable(&e.0) {
            StoreError::Unavailable(Box::new(e.0))
        } else {
            StoreError::Backend(Box::new(e.0))
        }
    }
}

impl From<SqlError> for AuthStoreError {
    fn from(e: SqlError) -> Self {
        if is_unavailable(&e.0) {
            AuthStoreError::Unavailable(Box::new(e.0))
        } else {
            AuthStoreError::Backend(Box::new(e.0))
        }
    }
}

/// A driver error on its way to a typed store error.
#[derive(Debug)]
pub(crate) struct SqlError(pub sqlx::Error);

impl From<sqlx::Error> for SqlError {
    fn from(e: sqlx::Error) -> Self {
        Self(e)
    }
}

/// Django's SQLite datetime text: `str(naive_utc)`, i.e. `YYYY-MM-DD HH:MM:SS[.ffffff]`.
#[cfg(feature = "sqlite")]
pub(crate) fn sqlite_datetime(dt: DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    // Written out rather than through `format`, whose strftime parsing showed in the profile
    // of every authenticated request (the expiry bound of the session read).
    let (year, month, day) = (dt.year(), dt.month(), dt.day());
    let (hour, minute, second) = (dt.hour(), dt.minute(), dt.second());
    let micros = dt.timestamp_subsec_micros();
    if micros == 0 {
        format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}")
    } else {
        format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}.{micros:06}")
    }
}

/// Exactly `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD HH:MM:SS.ffffff`, what Django and Sesame
/// write, read without chrono's format parser (two per authenticated request, and it showed in
/// the profile); anything else is left to it.
#[cfg(feature = "sqlite")]
pub(crate) fn parse_django_text(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    if !(b.len() == 19 || b.len() == 26) {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b.get(from..to)?.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let seps = [(4, b'-'), (7, b'-'), (10, b' '), (13, b':'), (16, b':')];
    if seps.iter().any(|&(i, c)| b.get(i) != Some(&c)) {
        return None;
    }
    let micros = if b.len() == 26 {
        if b.get(19) != Some(&b'.') {
            return None;
        }
        num(20, 26)?
    } else {
        0
    };
    let date =
        chrono::NaiveDate::from_ymd_opt(i32::try_from(num(0, 4)?).ok()?, num(5, 7)?, num(8, 10)?)?;
    let time =
        chrono::NaiveTime::from_hms_micro_opt(num(11, 13)?, num(14, 16)?, num(17, 19)?, micros)?;
    Some(date.and_time(time).and_utc())
}

/// Binding a datetime the way Django stores it on each backend (with `USE_TZ=True`):
/// SQLite text, PostgreSQL `timestamptz`, MySQL naive UTC `datetime(6)`.
pub(crate) trait BindTime {
    fn bind_time(self, dt: DateTime<Utc>) -> Self;
    fn bind_opt_time(self, dt: Option<DateTime<Utc>>) -> Self;
}

#[cfg(feature = "sqlite")]
impl<'q> BindTime for sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    fn bind_time(self, dt: DateTime<Utc>) -> Self {
        self.bind(sqlite_datetime(dt))
    }
    fn bind_opt_time(self, dt: Option<DateTime<Utc>>) -> Self {
        self.bind(dt.map(sqlite_datetime))
    }
}

#[cfg(feature = "postgres")]
impl<'q> BindTime for sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    fn bind_time(self, dt: DateTime<Utc>) -> Self {
        self.bind(dt)
    }
    fn bind_opt_time(self, dt: Option<DateTime<Utc>>) -> Self {
        self.bind(dt)
    }
}

#[cfg(feature = "mysql")]
impl<'q> BindTime for sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments> {
    fn bind_time(self, dt: DateTime<Utc>) -> Self {
        self.bind(dt.naive_utc())
    }
    fn bind_opt_time(self, dt: Option<DateTime<Utc>>) -> Self {
        self.bind(dt.map(|d| d.naive_utc()))
    }
}

/// Reading a datetime column on each backend.
pub(crate) trait GetTime {
    fn time(&self, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error>;
}

#[cfg(feature = "sqlite")]
impl GetTime for sqlx::sqlite::SqliteRow {
    fn time(&self, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        use sqlx::Row;
        let text: Option<String> = self.try_get(column)?;
        Ok(text.as_deref().and_then(parse_sqlite_datetime))
    }
}

/// A datetime as Django stores it in SQLite (`str(naive_utc)`), or ISO 8601 with an offset.
#[cfg(feature = "sqlite")]
pub(crate) fn parse_sqlite_datetime(text: &str) -> Option<DateTime<Utc>> {
    // `parse_isoformat` also reads the naive `str()` form, with any number of fraction digits.
    parse_django_text(text).or_else(|| sesame_core::session::parse_isoformat(text))
}

#[cfg(feature = "postgres")]
impl GetTime for sqlx::postgres::PgRow {
    fn time(&self, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        use sqlx::Row;
        self.try_get(column)
    }
}

#[cfg(feature = "mysql")]
impl GetTime for sqlx::mysql::MySqlRow {
    fn time(&self, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        use sqlx::Row;
        let naive: Option<chrono::NaiveDateTime> = self.try_get(column)?;
        Ok(naive.map(|n| n.and_utc()))
    }
}

#[cfg(test)]
#[cfg(feature = "sqlite")]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn sqlite_datetime_is_pythons_str() {
        let dt = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(sqlite_datetime(dt), "2026-01-02 03:04:05");
        let dt = dt + chrono::Duration::microseconds(7);
        assert_eq!(sqlite_datetime(dt), "2026-01-02 03:04:05.000007");
        assert_eq!(parse_sqlite_datetime(&sqlite_datetime(dt)), Some(dt));
        assert_eq!(parse_django_text("2026-01-02 03:04:05.000007"), Some(dt));
        // Other shapes go to chrono: fewer fraction digits, an offset, nonsense.
        assert_eq!(parse_django_text("2026-01-02 03:04:05.5"), None);
        assert_eq!(
            parse_sqlite_datetime("2026-01-02 03:04:05.5"),
            Some(dt - chrono::Duration::microseconds(7) + chrono::Duration::milliseconds(500))
        );
        assert_eq!(
            parse_sqlite_datetime("2026-01-02T04:04:05.000007+01:00"),
            Some(dt)
        );
        assert_eq!(parse_django_text("2026-13-02 03:04:05"), None);
        assert_eq!(parse_sqlite_datetime("2026-13-02 03:04:05"), None);
        assert_eq!(parse_django_text("2026-01-02 03:04:0x"), None);
        // Years before 1000 keep four digits, as Python writes them.
        let late = Utc.with_ymd_and_hms(999, 12, 31, 23, 59, 59).unwrap();
        assert_eq!(sqlite_datetime(late), "0999-12-31 23:59:59");
    }
}

#[cfg(test)]
mod feature_tests {
    use super::*;

    /// Each URL scheme names its dialect; one not compiled in fails to connect, naming the
    /// feature, before any driver is involved.
    #[tokio::test]
    async fn a_dialect_left_out_is_named() {
        for (url, backend) in [
            ("sqlite://x.sqlite3", Backend::Sqlite),
            ("postgres://u@127.0.0.1:1/db", Backend::Postgres),
            ("postgresql://u@127.0.0.1:1/db", Backend::Postgres),
            ("mysql://u@127.0.0.1:1/db", Backend::MySql),
            ("mariadb://u@127.0.0.1:1/db", Backend::MySql),
        ] {
            assert_eq!(Backend::from_url(url), Some(backend));
            if !backend.is_compiled_in() {
                let err = Db::connect(url, PoolSettings::default()).await;
                assert!(
                    matches!(err, Err(ConnectError::NotCompiledIn { backend: b }) if b == backend.name()),
                    "{url}"
                );
            }
        }
        assert_eq!(Backend::from_url("oracle://x"), None);
        assert!(matches!(
            Db::connect("oracle://x", PoolSettings::default()).await,
            Err(ConnectError::UnsupportedUrl(_))
        ));
        assert_eq!(Backend::Sqlite.is_compiled_in(), cfg!(feature = "sqlite"));
        assert_eq!(
            Backend::Postgres.is_compiled_in(),
            cfg!(feature = "postgres")
        );
        assert_eq!(Backend::MySql.is_compiled_in(), cfg!(feature = "mysql"));
    }
}
