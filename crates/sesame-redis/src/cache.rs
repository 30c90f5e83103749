//! Django's `cache` session engine (`django.contrib.sessions.backends.cache`) on Redis: the
//! session lives only in the cache, as a pickled dict under
//! `KEY_PREFIX:VERSION:django.contrib.sessions.cache<session key>`, for its expiry age.

use crate::RedisConfig;
use crate::client::{Condition, ConnectError, RedisCache, Written};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sesame_core::session::{SessionData, SessionRecord, SessionStore, StoreError};

/// Django's `django.contrib.sessions.backends.cache.KEY_PREFIX`.
pub const CACHE_KEY_PREFIX: &str = "django.contrib.sessions.cache";

/// Sessions in Redis, shared with a Django site whose `SESSION_ENGINE` is
/// `django.contrib.sessions.backends.cache` on `RedisCache` with the same `LOCATION`,
/// `KEY_PREFIX` and `VERSION`.
///
/// - `create` stores only if the key is free (`SET NX`), so a collision is a retry.
/// - `update` replaces a session only if it is still there (`SET XX`): a session deleted
///   meanwhile (a logout elsewhere) makes `save` fail with [`StoreError::RecordMissing`].
/// - Redis expires the keys itself, so `clear_expired` has nothing to do.
/// - A stored value that is not a pickled dict of plain data (a Django view put a `datetime`
///   in the session, say) loads as no session, with a warning, and is never executed.
///
/// ```no_run
/// use sesame_redis::{RedisConfig, RedisSessionStore};
/// use sesame_core::session::{Session, SessionConfig};
/// use std::sync::Arc;
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let store = Arc::new(RedisSessionStore::connect(RedisConfig::new("redis://127.0.0.1:6379"))?);
/// let mut session = Session::new(store, SessionConfig::default(), None);
/// session.insert("theme", "dark".into()).await?;
/// session.save().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RedisSessionStore {
    cache: RedisCache,
}

impl RedisSessionStore {
    /// A store on the cache `config` describes. Connects lazily (see [`RedisCache::new`]).
    pub fn connect(config: RedisConfig) -> Result<Self, ConnectError> {
        Ok(Self::new(RedisCache::new(config)?))
    }

    /// A store on an existing cache (which may serve other stores too).
    pub fn new(cache: RedisCache) -> Self {
        Self { cache }
    }

    /// The cache underneath.
    pub fn cache(&self) -> &RedisCache {
        &self.cache
    }

    /// The cache key of a session (before `KEY_PREFIX` and `VERSION`).
    pub fn cache_key(session_key: &str) -> String {
        format!("{CACHE_KEY_PREFIX}{session_key}")
    }
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn load_with_expiry(
        &self,
        key: &str,
    ) -> Result<Option<(SessionData, Option<DateTime<Utc>>)>, StoreError> {
        // Redis keeps a TTL, not the date: the record's own expiry is not known here.
        Ok(self
            .cache
            .get_session(&Self::cache_key(key))
            .await?
            .map(|data| (data, None)))
    }

    async fn create(&self, key: &str, record: SessionRecord<'_>) -> Result<String, StoreError> {
        let written = self
            .cache
            .set_session(
                &Self::cache_key(key),
                record.data,
                record.expire_date,
                Condition::IfAbsent,
            )
            .await?;
        match written {
            Written::Done => Ok(key.to_owned()),
            Written::ConditionFailed => Err(StoreError::KeyExists),
        }
    }

    async fn update(&self, key: &str, record: SessionRecord<'_>) -> Result<bool, StoreError> {
        let written = self
            .cache
            .set_session(
                &Self::cache_key(key),
                record.data,
                record.expire_date,
                Condition::IfPresent,
            )
            .await?;
        Ok(matches!(written, Written::Done))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.cache.delete(&Self::cache_key(key)).await.map(drop)
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.cache.has_key(&Self::cache_key(key)).await
    }

    async fn clear_expired(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
}
