//! Login-throttle counters in Sesame's `sesame_login_throttle` table, so that every instance
//! over one database enforces one limit. Each count is one statement: an upsert that adds
//! one (or starts again at 1 when the window has passed) and returns the new count.

use crate::db::{Db, Pool, is_unavailable};
use async_trait::async_trait;
use sesame_core::auth::throttle::{Count, ThrottleError, ThrottleKey, ThrottleStore};
use sqlx::Row;
use std::time::Duration;

/// The table `migrate` creates for the counters: the hashed key, the count, and the end of
/// the window in milliseconds since the epoch (an integer reads the same on every backend).
pub const THROTTLE_TABLE: &str = "sesame_login_throttle";

/// The DDL of [`THROTTLE_TABLE`] and its expiry index, the same on the three backends.
pub(crate) const THROTTLE_DDL: [&str; 2] = [
    "CREATE TABLE sesame_login_throttle (throttle_key varchar(96) NOT NULL PRIMARY KEY, attempts bigint NOT NULL, expires_ms bigint NOT NULL)",
    "CREATE INDEX sesame_login_throttle_expires_ms ON sesame_login_throttle (expires_ms)",
];

/// Throttle counters on SQLite, PostgreSQL or MySQL/MariaDB (the table comes from
/// [`migrate`](crate::migrate)).
#[derive(Debug, Clone)]
pub struct SqlThrottleStore {
    db: Db,
}

impl SqlThrottleStore {
    /// Counters in `db`'s `sesame_login_throttle`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

fn err(e: sqlx::Error) -> ThrottleError {
    if is_unavailable(&e) {
        ThrottleError::Unavailable(Box::new(e))
    } else {
        ThrottleError::Backend(Box::new(e))
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn window_ms(window: Duration) -> i64 {
    i64::try_from(window.as_millis()).unwrap_or(i64::MAX / 2)
}

fn count(attempts: i64, expires_ms: i64, now: i64) -> Count {
    Count {
        count: u64::try_from(attempts).unwrap_or(0),
        expires_in: Duration::from_millis(u64::try_from(expires_ms - now).unwrap_or(0)),
    }
}

#[async_trait]
impl ThrottleStore for SqlThrottleStore {
    fn name(&self) -> &'static str {
        self.db.backend().name()
    }

    async fn increment(&self, key: &ThrottleKey, window: Duration) -> Result<Count, ThrottleError> {
        let now = now_ms();
        let expires = now.saturating_add(window_ms(window));
        // SQLite and PostgreSQL: one upsert with RETURNING.
        #[cfg(any(feature = "sqlite", feature = "postgres"))]
        let upsert = self.db.sql(
            "INSERT INTO sesame_login_throttle (throttle_key, attempts, expires_ms) \
             VALUES (?, 1, ?) ON CONFLICT (throttle_key) DO UPDATE SET \
             attempts = CASE WHEN sesame_login_throttle.expires_ms <= ? THEN 1 \
             ELSE sesame_login_throttle.attempts + 1 END, expires_ms = excluded.expires_ms \
             RETURNING attempts",
        );
        let attempts: i64 = match &self.db.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(p) => sqlx::query(&upsert)
                .bind(key.as_str())
                .bind(expires)
                .bind(now)
                .fetch_one(p)
                .await
                .map_err(err)?
                .try_get(0)
                .map_err(err)?,
            #[cfg(feature = "postgres")]
            Pool::Postgres(p) => sqlx::query(&upsert)
                .bind(key.as_str())
                .bind(expires)
                .bind(now)
                .fetch_one(p)
                .await
                .map_err(err)?
                .try_get(0)
                .map_err(err)?,
            // MySQL has no RETURNING: LAST_INSERT_ID(expr) carries the new count out of the
            // upsert, read back on the same connection. The assignments run left to right,
            // so `attempts` sees the old `expires_ms`.
            #[cfg(feature = "mysql")]
            Pool::MySql(p) => {
                let mut conn = p.acquire().await.map_err(err)?;
                sqlx::query(
                    "INSERT INTO sesame_login_throttle (throttle_key, attempts, expires_ms) \
                     VALUES (?, LAST_INSERT_ID(1), ?) ON DUPLICATE KEY UPDATE \
                     attempts = LAST_INSERT_ID(IF(expires_ms <= ?, 1, attempts + 1)), expires_ms = ?",
                )
                .bind(key.as_str())
                .bind(expires)
                .bind(now)
                .bind(expires)
                .execute(&mut *conn)
                .await
                .map_err(err)?;
                let n: u64 = sqlx::query("SELECT LAST_INSERT_ID()")
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(err)?
                    .try_get(0)
                    .map_err(err)?;
                i64::try_from(n).unwrap_or(i64::MAX)
            }
        };
        Ok(count(attempts, expires, now))
    }

    async fn get(&self, key: &ThrottleKey) -> Result<Option<Count>, ThrottleError> {
        let now = now_ms();
        let sql = self.db.sql(
            "SELECT attempts, expires_ms FROM sesame_login_throttle \
             WHERE throttle_key = ? AND expires_ms > ?",
        );
        let row: Option<(i64, i64)> = crate::db::with_pool!(self.db, p => {
            sqlx::query_as(&sql).bind(key.as_str()).bind(now).fetch_optional(p).await.map_err(err)?
        });
        Ok(row.map(|(a, e)| count(a, e, now)))
    }

    async fn reset(&self, key: &ThrottleKey) -> Result<(), ThrottleError> {
        let sql = self
            .db
            .sql("DELETE FROM sesame_login_throttle WHERE throttle_key = ?");
        crate::db::with_pool!(self.db, p => {
            sqlx::query(&sql).bind(key.as_str()).execute(p).await.map(drop).map_err(err)?
        });
        Ok(())
    }

    async fn clear_expired(&self) -> Result<u64, ThrottleError> {
        let sql = self
            .db
            .sql("DELETE FROM sesame_login_throttle WHERE expires_ms <= ?");
        let now = now_ms();
        Ok(crate::db::with_pool!(self.db, p => {
            sqlx::query(&sql).bind(now).execute(p).await.map_err(err)?.rows_affected()
        }))
    }
}
