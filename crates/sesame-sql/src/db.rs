//! The connection: one of three sqlx pools, the SQL dialect differences, and the mapping of
//! driver errors to Sesame's typed errors.

use chrono::{DateTime, NaiveDateTime, Utc};
use sesame_core::auth::AuthStoreError;
use sesame_core::session::StoreError;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// The database behind a store.
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
    /// The name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::MySql => "mysql",
        }
    }
}

/// One of the three pools.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
    MySql(sqlx::MySqlPool),
}

/// Run the same code against whichever pool is configured. Each arm is type-checked against
/// its own driver, so the body can use driver-specific types through the traits below.
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match &$db.pool {
            $crate::db::Pool::Sqlite($pool) => $body,
            $crate::db::Pool::Postgres($pool) => $body,
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
}

/// Pool settings.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Connections kept at most.
    pub max_connections: u32,
    /// How long to wait for a connection before reporting the store unavailable.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

impl Db {
    /// Connect to `sqlite://path` (created if missing), `postgres://...` or `mysql://...`.
    pub async fn connect(url: &str, settings: PoolSettings) -> Result<Self, ConnectError> {
        let invalid = |e: sqlx::Error| ConnectError::InvalidUrl(e.to_string());
        let (pool, backend) = if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(invalid)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
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
            (Pool::Sqlite(pool), Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url).map_err(invalid)?;
            let pool = PgPoolOptions::new()
                .max_connections(settings.max_connections)
                .acquire_timeout(settings.acquire_timeout)
                .connect_with(opts)
                .await
                .map_err(|source| ConnectError::Connect {
                    backend: "postgres",
                    source,
                })?;
            (Pool::Postgres(pool), Backend::Postgres)
        } else if url.starts_with("mysql:") || url.starts_with("mariadb:") {
            let url = url.replacen("mariadb:", "mysql:", 1);
            // Django stores naive UTC in MySQL; the session time zone must not shift it.
            let opts = MySqlConnectOptions::from_str(&url)
                .map_err(invalid)?
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
            (Pool::MySql(pool), Backend::MySql)
        } else {
            return Err(ConnectError::UnsupportedUrl(url.to_owned()));
        };
        Ok(Self { pool, backend })
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
        with_pool!(self, p => p.close().await)
    }
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
pub(crate) fn sqlite_datetime(dt: DateTime<Utc>) -> String {
    if dt.timestamp_subsec_micros() == 0 {
        dt.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        dt.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
    }
}

/// Binding a datetime the way Django stores it on each backend (with `USE_TZ=True`):
/// SQLite text, PostgreSQL `timestamptz`, MySQL naive UTC `datetime(6)`.
pub(crate) trait BindTime {
    fn bind_time(self, dt: DateTime<Utc>) -> Self;
    fn bind_opt_time(self, dt: Option<DateTime<Utc>>) -> Self;
}

impl<'q> BindTime for sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    fn bind_time(self, dt: DateTime<Utc>) -> Self {
        self.bind(sqlite_datetime(dt))
    }
    fn bind_opt_time(self, dt: Option<DateTime<Utc>>) -> Self {
        self.bind(dt.map(sqlite_datetime))
    }
}

impl<'q> BindTime for sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    fn bind_time(self, dt: DateTime<Utc>) -> Self {
        self.bind(dt)
    }
    fn bind_opt_time(self, dt: Option<DateTime<Utc>>) -> Self {
        self.bind(dt)
    }
}

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

impl GetTime for sqlx::sqlite::SqliteRow {
    fn time(&self, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        use sqlx::Row;
        let text: Option<String> = self.try_get(column)?;
        Ok(text.and_then(|t| {
            NaiveDateTime::parse_from_str(&t, "%Y-%m-%d %H:%M:%S%.f")
                .ok()
                .map(|n| n.and_utc())
                .or_else(|| sesame_core::session::parse_isoformat(&t))
        }))
    }
}

impl GetTime for sqlx::postgres::PgRow {
    fn time(&self, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        use sqlx::Row;
        self.try_get(column)
    }
}

impl GetTime for sqlx::mysql::MySqlRow {
    fn time(&self, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        use sqlx::Row;
        let naive: Option<NaiveDateTime> = self.try_get(column)?;
        Ok(naive.map(|n| n.and_utc()))
    }
}
