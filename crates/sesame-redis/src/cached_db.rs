//! Django's `cached_db` session engine (`django.contrib.sessions.backends.cached_db`): the
//! database is the record, and Redis keeps a write-through copy under
//! `KEY_PREFIX:VERSION:django.contrib.sessions.cached_db<session key>`.

use crate::RedisConfig;
use crate::client::{Condition, ConnectError, RedisCache, redact_key};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sesame_core::session::{SessionData, SessionRecord, SessionStore, StoreError};
use std::sync::Arc;

/// Django's `django.contrib.sessions.backends.cached_db.KEY_PREFIX`.
pub const CACHED_DB_KEY_PREFIX: &str = "django.contrib.sessions.cached_db";

/// The logger Django reports cache failures of this engine to.
pub const CACHE_ERROR_TARGET: &str = "django.contrib.sessions";

/// A write-through Redis cache in front of any other session store (in Django, the `db`
/// engine's `django_session` table: [`sesame_sql::SqlSessionStore`] on the same database).
///
/// [`sesame_sql::SqlSessionStore`]: https://docs.rs/sesame-sql
///
/// - `load`: the cache first; on a miss the database, then the cache is filled for exactly
///   the time the record has left (a database store that cannot tell its expiry date is not
///   cached on load).
/// - `create` and `save`: the database first, then the cache.
/// - `delete`: both.
///
/// A cache failure while loading or saving is logged (target `django.contrib.sessions`) and
/// the database answers alone, as in Django. A failure to delete the cached copy is an error,
/// as in Django too: otherwise a logged-out session would come back from the cache.
#[derive(Clone)]
pub struct CachedDbSessionStore {
    cache: RedisCache,
    db: Arc<dyn SessionStore>,
}

impl std::fmt::Debug for CachedDbSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedDbSessionStore")
            .field("cache", &self.cache)
            .field("db", &self.db.name())
            .finish()
    }
}

impl CachedDbSessionStore {
    /// The database store `db` with a cache on `config`. Connects lazily.
    pub fn connect(config: RedisConfig, db: Arc<dyn SessionStore>) -> Result<Self, ConnectError> {
        Ok(Self::new(RedisCache::new(config)?, db))
    }

    /// The database store `db` with `cache` in front.
    pub fn new(cache: RedisCache, db: Arc<dyn SessionStore>) -> Self {
        Self { cache, db }
    }

    /// The cache.
    pub fn cache(&self) -> &RedisCache {
        &self.cache
    }

    /// The database store.
    pub fn db(&self) -> &Arc<dyn SessionStore> {
        &self.db
    }

    /// The cache key of a session (before `KEY_PREFIX` and `VERSION`).
    pub fn cache_key(session_key: &str) -> String {
        format!("{CACHED_DB_KEY_PREFIX}{session_key}")
    }

    /// Write the cached copy; a failure is only logged.
    async fn cache_set(&self, key: &str, data: &SessionData, expire_date: DateTime<Utc>) {
        let result = self
            .cache
            .set_session(&Self::cache_key(key), data, expire_date, Condition::Always)
            .await;
        if let Err(e) = result {
            tracing::warn!(
                target: CACHE_ERROR_TARGET,
                key = %redact_key(key),
                error = %e,
                "Error saving to cache"
            );
        }
    }
}

#[async_trait]
impl SessionStore for CachedDbSessionStore {
    fn name(&self) -> &'static str {
        "cached_db"
    }

    fn is_valid_key(&self, key: &str) -> bool {
        self.db.is_valid_key(key)
    }

    async fn load(&self, key: &str) -> Result<Option<SessionData>, StoreError> {
        Ok(self.load_with_expiry(key).await?.map(|(data, _)| data))
    }

    async fn load_with_expiry(
        &self,
        key: &str,
    ) -> Result<Option<(SessionData, Option<DateTime<Utc>>)>, StoreError> {
        if !self.is_valid_key(key) {
            return Ok(None);
        }
        match self.cache.get_session(&Self::cache_key(key)).await {
            // The cache does not keep the date; Redis's TTL is only approximately it.
            Ok(Some(data)) => return Ok(Some((data, None))),
            Ok(None) => {}
            Err(e) => tracing::warn!(
                target: CACHE_ERROR_TARGET,
                key = %redact_key(key),
                error = %e,
                "Error reading from cache; loading the session from the database"
            ),
        }
        let Some((data, expires)) = self.db.load_with_expiry(key).await? else {
            return Ok(None);
        };
        if let Some(expire_date) = expires {
            self.cache_set(key, &data, expire_date).await;
        }
        Ok(Some((data, expires)))
    }

    async fn create(&self, key: &str, record: SessionRecord<'_>) -> Result<String, StoreError> {
        let key = self.db.create(key, record).await?;
        self.cache_set(&key, record.data, record.expire_date).await;
        Ok(key)
    }

    async fn save(
        &self,
        key: &str,
        record: SessionRecord<'_>,
        must_exist: bool,
    ) -> Result<String, StoreError> {
        let key = self.db.save(key, record, must_exist).await?;
        self.cache_set(&key, record.data, record.expire_date).await;
        Ok(key)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        // The database first, as Django: a load racing with this delete can only refill the
        // cache before the row goes, and the cache delete below then removes that copy.
        self.db.delete(key).await?;
        self.cache.delete(&Self::cache_key(key)).await.map(drop)
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        match self.cache.has_key(&Self::cache_key(key)).await {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(e) => tracing::warn!(
                target: CACHE_ERROR_TARGET,
                error = %e,
                "Error reading from cache; asking the database"
            ),
        }
        self.db.exists(key).await
    }

    async fn clear_expired(&self) -> Result<u64, StoreError> {
        self.db.clear_expired().await
    }
}
