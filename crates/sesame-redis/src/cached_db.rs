//! Django's `cached_db` session engine (`django.contrib.sessions.backends.cached_db`): the
//! database is the record, and Redis keeps a write-through copy under
//! `KEY_PREFIX:VERSION:django.contrib.sessions.cached_db<session key>`.
//!
//! # A logout is final
//!
//! A copy in the cache is a second place where a session lives, so ending a session has to
//! end both, and an outage of either in the middle must not leave a copy that opens the
//! session again later (Redis with AOF brings its keys back after a restart). `delete` goes:
//!
//! 1. **Revoke in the cache**: in one atomic step, set a revocation marker
//!    (`KEY_PREFIX:VERSION:`[`REVOKED_KEY_PREFIX`]`<key>`, for [`DEFAULT_REVOCATION_TTL`]) and
//!    delete the cached copy. If Redis is down this fails, and the error (503) is honest:
//!    nothing was changed, the session still works, and it stays working when Redis returns.
//! 2. **Delete the database row.** If this fails (503), the row is still there and the session
//!    still works (loads go to the database and refill the copy once the marker expires).
//! 3. **Delete the cached copy again.** Only writers that ignore the marker can have put one
//!    back since step 1 (a Django process beside Sesame refilling it from the row before step
//!    2). If Redis fails now, the row is already gone, so the logout is done and answered as
//!    done; the key goes into a bounded in-process set whose cached copy is never trusted: a
//!    load of it goes to the database (which says "no session") and retries the delete, and
//!    every later successful `delete` retries the whole set.
//!
//! Every write of the copy by this store (a refill on a cache miss, `create`, `save`) is
//! conditional on the marker's absence, in one Redis script, and is skipped if its database
//! step started more than half the marker's lifetime ago. So a load that read the row just
//! before step 2 cannot put the copy back after step 3 (Django's
//! `test_session_save_does_not_resurrect_session_logged_out_in_other_context` race).
//!
//! What this does not cover: a copy written by another process that ignores the marker (a
//! Django peer) between steps 1 and 2, *and* Redis failing between steps 2 and 3; then other
//! processes may trust that copy until it expires, because the set of step 3 lives in one
//! process (and does not survive its restart). It also relies on Redis keeping writes it has
//! acknowledged: AOF loses none on a crash of Redis itself, but a crash of the machine with
//! `appendfsync everysec` or a failover to a replica that had not received step 1 can.
//!
//! The read path on a hit is unchanged: one `GETRANGE`, plus an in-memory check that costs
//! nothing while no key awaits its retry.

use crate::RedisConfig;
use crate::client::{ConnectError, RedisCache, Written, redact_key};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sesame_core::session::{SessionData, SessionRecord, SessionStore, StoreError};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Django's `django.contrib.sessions.backends.cached_db.KEY_PREFIX`.
pub const CACHED_DB_KEY_PREFIX: &str = "django.contrib.sessions.cached_db";

/// The logger Django reports cache failures of this engine to.
pub const CACHE_ERROR_TARGET: &str = "django.contrib.sessions";

/// The cache key prefix of the revocation markers (before `KEY_PREFIX` and `VERSION`).
/// Django never reads these keys.
pub const REVOKED_KEY_PREFIX: &str = "sesame.revoked.django.contrib.sessions.cached_db";

/// How long a revocation marker lives. It only has to outlast the writes that were already
/// under way at the logout (a request between its database read and its cache write), which
/// take milliseconds; ten minutes leave room for a stalled request or a paused Redis.
pub const DEFAULT_REVOCATION_TTL: Duration = Duration::from_secs(600);

/// How many keys may wait for the retry of their cache delete (step 3 of a logout, see the
/// module docs) in one process; about 100 bytes each. Past it, a logout whose last step fails
/// is still done, but its key is only logged.
pub const MAX_UNTRUSTED_KEYS: usize = 100_000;

/// A write-through Redis cache in front of any other session store (in Django, the `db`
/// engine's `django_session` table: [`sesame_sql::SqlSessionStore`] on the same database).
///
/// [`sesame_sql::SqlSessionStore`]: https://docs.rs/sesame-sql
///
/// - `load`: the cache first; on a miss the database, then the cache is filled for exactly
///   the time the record has left (a database store that cannot tell its expiry date is not
///   cached on load).
/// - `create` and `update` (so `save`): the database first, then the cache.
/// - `delete`: the cache (a revocation marker and a `DEL` in one step), the database, the
///   cache again: an error means the session is still there; success means it is gone
///   everywhere ([crate docs](crate#logouts-and-outages-what-a-503-means)). Writes of the
///   cached copy are refused while the marker lives ([`DEFAULT_REVOCATION_TTL`]), so a load
///   racing with a logout cannot put the copy back. If the last `DEL` fails, this process
///   stops trusting that key's copy (at most [`MAX_UNTRUSTED_KEYS`]) and retries the delete
///   on the key's next load and after every successful `delete`; other processes are not
///   told, which matters only if a writer that ignores the marker (a Django peer) refilled
///   the copy between the first two steps.
///
/// A cache failure while loading or saving is logged (target `django.contrib.sessions`) and
/// the database answers alone, as in Django.
#[derive(Clone)]
pub struct CachedDbSessionStore {
    cache: RedisCache,
    db: Arc<dyn SessionStore>,
    revocation_ttl: Duration,
    untrusted: Arc<Untrusted>,
}

/// The keys whose cached copy must not be trusted until a delete of it succeeds (step 3 of
/// a logout failed). Its length is kept apart so the read path checks an atomic, not a lock,
/// while the set is empty.
#[derive(Default)]
struct Untrusted {
    len: AtomicUsize,
    keys: Mutex<HashSet<String>>,
}

impl Untrusted {
    fn contains(&self, key: &str) -> bool {
        self.len.load(Ordering::Acquire) > 0 && self.lock().contains(key)
    }

    /// Add `key`; false when the set is full.
    fn insert(&self, key: &str) -> bool {
        let mut keys = self.lock();
        if keys.len() >= MAX_UNTRUSTED_KEYS && !keys.contains(key) {
            return false;
        }
        keys.insert(key.to_owned());
        self.len.store(keys.len(), Ordering::Release);
        true
    }

    fn remove(&self, key: &str) {
        let mut keys = self.lock();
        keys.remove(key);
        self.len.store(keys.len(), Ordering::Release);
    }

    fn snapshot(&self) -> Vec<String> {
        if self.len.load(Ordering::Acquire) == 0 {
            return Vec::new();
        }
        self.lock().iter().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        // A panic while holding this lock cannot leave the set inconsistent (each operation
        // is one call on it), so a poisoned lock is used as it is.
        self.keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
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
        Self {
            cache,
            db,
            revocation_ttl: DEFAULT_REVOCATION_TTL,
            untrusted: Arc::default(),
        }
    }

    /// Keep revocation markers for `ttl` instead of [`DEFAULT_REVOCATION_TTL`]. A write of
    /// the cached copy whose database step started more than half of it ago is skipped.
    pub fn with_revocation_ttl(mut self, ttl: Duration) -> Self {
        self.revocation_ttl = ttl.max(Duration::from_millis(2));
        self
    }

    /// How many keys of this process wait for their cached copy to be deleted (a logout whose
    /// last cache delete failed); their copies are not trusted meanwhile.
    pub fn untrusted_keys(&self) -> usize {
        self.untrusted.len.load(Ordering::Acquire)
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

    /// The cache key of a session's revocation marker (before `KEY_PREFIX` and `VERSION`).
    pub fn revoked_key(session_key: &str) -> String {
        format!("{REVOKED_KEY_PREFIX}{session_key}")
    }

    /// Write the cached copy of what the database held or took at `started`, unless the
    /// session was revoked since; a failure is only logged (the database has the record).
    async fn cache_set(
        &self,
        key: &str,
        data: &SessionData,
        expire_date: DateTime<Utc>,
        started: Instant,
    ) {
        if self.untrusted.contains(key) || started.elapsed() > self.revocation_ttl / 2 {
            // Too old to be sure a marker set after it is still there to refuse it.
            return;
        }
        let result = self
            .cache
            .set_session_unless(
                &Self::cache_key(key),
                &Self::revoked_key(key),
                data,
                expire_date,
            )
            .await;
        match result {
            Ok(Written::Done) => {}
            Ok(Written::ConditionFailed) => tracing::debug!(
                target: CACHE_ERROR_TARGET,
                key = %redact_key(key),
                "not caching a revoked session"
            ),
            Err(e) => tracing::warn!(
                target: CACHE_ERROR_TARGET,
                key = %redact_key(key),
                error = %e,
                "Error saving to cache"
            ),
        }
    }

    /// Retry the cache delete of `key` (step 3 of a logout that failed); true when done.
    async fn retry_untrusted(&self, key: &str) -> bool {
        match self.cache.delete(&Self::cache_key(key)).await {
            Ok(_) => {
                self.untrusted.remove(key);
                true
            }
            Err(_) => false,
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

    async fn load_with_expiry(
        &self,
        key: &str,
    ) -> Result<Option<(SessionData, Option<DateTime<Utc>>)>, StoreError> {
        if self.untrusted.contains(key) {
            // A logout removed the row but not the cached copy: the database decides.
            self.retry_untrusted(key).await;
        } else {
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
        }
        let started = Instant::now();
        let Some((data, expires)) = self.db.load_with_expiry(key).await? else {
            return Ok(None);
        };
        if let Some(expire_date) = expires {
            self.cache_set(key, &data, expire_date, started).await;
        }
        Ok(Some((data, expires)))
    }

    async fn create(&self, key: &str, record: SessionRecord<'_>) -> Result<String, StoreError> {
        let started = Instant::now();
        let key = self.db.create(key, record).await?;
        self.cache_set(&key, record.data, record.expire_date, started)
            .await;
        Ok(key)
    }

    async fn update(&self, key: &str, record: SessionRecord<'_>) -> Result<bool, StoreError> {
        let started = Instant::now();
        let updated = self.db.update(key, record).await?;
        if updated {
            self.cache_set(key, record.data, record.expire_date, started)
                .await;
        }
        Ok(updated)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        // The order and what each failure means: see the module docs.
        let cache_key = Self::cache_key(key);
        self.cache
            .revoke(&cache_key, &Self::revoked_key(key), self.revocation_ttl)
            .await?;
        self.db.delete(key).await?;
        match self.cache.delete(&cache_key).await {
            Ok(_) => {
                self.untrusted.remove(key);
                // Redis answers again: retry the keys earlier logouts left behind.
                for pending in self.untrusted.snapshot() {
                    if !self.retry_untrusted(&pending).await {
                        break;
                    }
                }
            }
            Err(e) => {
                let kept = self.untrusted.insert(key);
                tracing::error!(
                    target: CACHE_ERROR_TARGET,
                    key = %redact_key(key),
                    error = %e,
                    kept,
                    "Error deleting from cache after the session was deleted from the database; \
                     the cached copy is not trusted by this process until a delete succeeds"
                );
            }
        }
        Ok(())
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        if self.untrusted.contains(key) {
            return self.db.exists(key).await;
        }
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
