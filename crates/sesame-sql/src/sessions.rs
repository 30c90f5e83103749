//! Sessions in Django's `django_session` table.

use crate::db::{BindTime, Db, SqlError, is_unique_violation, with_pool};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sesame_core::session::{SessionCodec, SessionData, SessionRecord, SessionStore, StoreError};
use sqlx::Row;

/// Rows deleted per statement by `clear_expired`, so that clearing millions of sessions never
/// holds a long lock.
pub const CLEAR_BATCH: i64 = 1000;

/// Sesame's index from a session to its logged-in user, so that an authenticated request
/// can load both in one round trip (a join). Django never reads it; sessions Django writes
/// are simply not in it, and then the user costs a second query.
pub const SESSION_USER_TABLE: &str = "sesame_session_user";

/// The `db` session engine on SQLite, PostgreSQL or MySQL/MariaDB.
#[derive(Debug, Clone)]
pub struct SqlSessionStore {
    db: Db,
    codec: SessionCodec,
    max_size: usize,
    has_index: std::sync::Arc<tokio::sync::OnceCell<bool>>,
}

impl SqlSessionStore {
    /// A store over a connection, encoding with `codec`.
    pub fn new(db: Db, codec: SessionCodec) -> Self {
        Self {
            db,
            codec,
            max_size: 0,
            has_index: Default::default(),
        }
    }

    /// The codec (to decode rows fetched elsewhere, e.g. by the session-and-user join).
    pub fn codec(&self) -> &SessionCodec {
        &self.codec
    }

    /// Whether the `sesame_session_user` index exists (checked once).
    pub async fn has_user_index(&self) -> bool {
        *self
            .has_index
            .get_or_init(|| self.db.table_exists(SESSION_USER_TABLE))
            .await
    }

    /// Keep `sesame_session_user` in step with the session's `_auth_user_id`.
    async fn index_user(&self, key: &str, data: &SessionData) -> Result<(), StoreError> {
        if !self.has_user_index().await {
            return Ok(());
        }
        let user_id = data
            .get(sesame_core::auth::SESSION_KEY)
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse::<i64>().ok());
        let delete = self.db.sql(&format!(
            "DELETE FROM {SESSION_USER_TABLE} WHERE session_key = ?"
        ));
        match user_id {
            None => {
                with_pool!(self.db, p => sqlx::query(&delete).bind(key).execute(p).await.map(drop).map_err(SqlError::from)?);
            }
            Some(id) => {
                let upsert = self.db.sql(match self.db.backend() {
                    crate::Backend::MySql => "INSERT INTO sesame_session_user (session_key, user_id) VALUES (?, ?) ON DUPLICATE KEY UPDATE user_id = VALUES(user_id)",
                    _ => "INSERT INTO sesame_session_user (session_key, user_id) VALUES (?, ?) ON CONFLICT (session_key) DO UPDATE SET user_id = excluded.user_id",
                });
                with_pool!(self.db, p => sqlx::query(&upsert).bind(key).bind(id).execute(p).await.map(drop).map_err(SqlError::from)?);
            }
        }
        Ok(())
    }

    /// Refuse encoded sessions over `max_size` bytes (`0` = no limit).
    pub fn with_max_size(mut self, max_size: usize) -> Self {
        self.max_size = max_size;
        self
    }

    /// The connection.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// How many sessions have expired (for a progress bar).
    pub async fn count_expired(&self) -> Result<u64, StoreError> {
        let sql = self
            .db
            .sql("SELECT COUNT(*) FROM django_session WHERE expire_date < ?");
        let now = Utc::now();
        let n: i64 = with_pool!(self.db, p => {
            sqlx::query(&sql).bind_time(now).fetch_one(p).await.map_err(SqlError::from)?.try_get(0).map_err(SqlError::from)?
        });
        Ok(n.max(0) as u64)
    }

    /// `clearsessions`: delete expired rows in batches of [`CLEAR_BATCH`], calling `progress`
    /// with the running total after each batch.
    pub async fn clear_expired_with_progress(
        &self,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<u64, StoreError> {
        let now = Utc::now();
        // MySQL refuses LIMIT inside an IN subquery but allows DELETE ... LIMIT; the others
        // accept the subquery form.
        let sql = self.db.sql(match self.db.backend() {
            crate::Backend::MySql => "DELETE FROM django_session WHERE expire_date < ? LIMIT ?",
            _ => {
                "DELETE FROM django_session WHERE session_key IN \
                 (SELECT session_key FROM django_session WHERE expire_date < ? LIMIT ?)"
            }
        });
        let mut total = 0u64;
        loop {
            let n = with_pool!(self.db, p => {
                sqlx::query(&sql).bind_time(now).bind(CLEAR_BATCH).execute(p).await.map_err(SqlError::from)?.rows_affected()
            });
            total += n;
            progress(total);
            if n < CLEAR_BATCH as u64 {
                break;
            }
            // Let other writers in between batches.
            tokio::task::yield_now().await;
        }
        if self.has_user_index().await {
            // An anti-join on the primary key: `NOT IN` would degrade to a quadratic scan on
            // PostgreSQL once the key list outgrows work_mem.
            let orphans = match self.db.backend() {
                crate::Backend::MySql => format!(
                    "DELETE su FROM {SESSION_USER_TABLE} su LEFT JOIN django_session s \
                     ON s.session_key = su.session_key WHERE s.session_key IS NULL"
                ),
                _ => format!(
                    "DELETE FROM {SESSION_USER_TABLE} WHERE NOT EXISTS \
                     (SELECT 1 FROM django_session s WHERE s.session_key = {SESSION_USER_TABLE}.session_key)"
                ),
            };
            self.db
                .execute_raw(&orphans)
                .await
                .map_err(SqlError::from)?;
        }
        Ok(total)
    }

    /// Every live session key with its expiry, newest first (`sesame session list`).
    pub async fn list(
        &self,
        limit: i64,
    ) -> Result<Vec<(String, chrono::DateTime<Utc>)>, StoreError> {
        use crate::db::GetTime;
        let sql = self.db.sql(
            "SELECT session_key, expire_date FROM django_session WHERE expire_date > ? ORDER BY expire_date DESC LIMIT ?",
        );
        let now = Utc::now();
        with_pool!(self.db, p => {
            let rows = sqlx::query(&sql).bind_time(now).bind(limit).fetch_all(p).await.map_err(SqlError::from)?;
            rows.iter()
                .map(|r| Ok((r.try_get("session_key")?, r.time("expire_date")?.unwrap_or(now))))
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(|e| SqlError::from(e).into())
        })
    }
}

#[async_trait]
impl SessionStore for SqlSessionStore {
    fn name(&self) -> &'static str {
        self.db.backend().name()
    }

    async fn load_with_expiry(
        &self,
        key: &str,
    ) -> Result<Option<(SessionData, Option<DateTime<Utc>>)>, StoreError> {
        use crate::db::GetTime;
        let sql = self.db.sql(
            "SELECT session_data, expire_date FROM django_session WHERE session_key = ? AND expire_date > ?",
        );
        let now = Utc::now();
        let row: Option<(String, Option<DateTime<Utc>>)> = with_pool!(self.db, p => {
            sqlx::query(&sql).bind(key).bind_time(now).fetch_optional(p).await.map_err(SqlError::from)?
                .map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.time("expire_date")?)))
                .transpose().map_err(SqlError::from)?
        });
        Ok(row.map(|(d, expires)| (self.codec.decode(&d), expires)))
    }

    async fn create(&self, key: &str, record: SessionRecord<'_>) -> Result<String, StoreError> {
        let encoded = self.codec.encode_checked(record.data, self.max_size)?;
        let sql = self.db.sql(
            "INSERT INTO django_session (session_key, session_data, expire_date) VALUES (?, ?, ?)",
        );
        let result = with_pool!(self.db, p => {
            sqlx::query(&sql).bind(key).bind(&encoded).bind_time(record.expire_date).execute(p).await.map(drop)
        });
        match result {
            Ok(()) => {
                self.index_user(key, record.data).await?;
                Ok(key.to_owned())
            }
            Err(e) if is_unique_violation(&e) => Err(StoreError::KeyExists),
            Err(e) => Err(SqlError(e).into()),
        }
    }

    async fn update(&self, key: &str, record: SessionRecord<'_>) -> Result<bool, StoreError> {
        let encoded = self.codec.encode_checked(record.data, self.max_size)?;
        let update = self.db.sql(
            "UPDATE django_session SET session_data = ?, expire_date = ? WHERE session_key = ?",
        );
        let updated = with_pool!(self.db, p => {
            sqlx::query(&update).bind(&encoded).bind_time(record.expire_date).bind(key).execute(p).await
                .map_err(SqlError::from)?.rows_affected()
        });
        if updated == 0 {
            return Ok(false);
        }
        self.index_user(key, record.data).await?;
        Ok(true)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let sql = self
            .db
            .sql("DELETE FROM django_session WHERE session_key = ?");
        with_pool!(self.db, p => sqlx::query(&sql).bind(key).execute(p).await.map(drop).map_err(SqlError::from)?);
        Ok(())
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        let sql = self
            .db
            .sql("SELECT 1 FROM django_session WHERE session_key = ?");
        let row = with_pool!(self.db, p => sqlx::query(&sql).bind(key).fetch_optional(p).await.map_err(SqlError::from)?.is_some());
        Ok(row)
    }

    async fn clear_expired(&self) -> Result<u64, StoreError> {
        self.clear_expired_with_progress(&|_| {}).await
    }
}
