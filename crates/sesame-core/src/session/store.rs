//! The [`SessionStore`] trait: the six operations every engine provides. All the semantics
//! (expiry, the modified flag, cycling keys) live once, in [`super::Session`].

use super::SessionData;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A boxed error from a store's driver.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a store can report. The web layer maps these to statuses: [`StoreError::RecordMissing`]
/// to 400 (Django's `SessionInterrupted`), [`StoreError::TooLarge`] to 413, and
/// [`StoreError::Unavailable`] and [`StoreError::Backend`] to 503.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `create`: a record already has this key; retry with a new one (Django's `CreateError`).
    #[error("a session with this key already exists")]
    KeyExists,
    /// `save(must_exist)`: the record vanished, e.g. after a concurrent logout (`UpdateError`).
    #[error("the session record no longer exists")]
    RecordMissing,
    /// The encoded session is over the configured size limit.
    #[error("the session is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// Encoded size in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The store cannot be reached; retrying later may succeed.
    #[error("the session store is unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// Any other failure of the store.
    #[error("the session store failed: {0}")]
    Backend(#[source] BoxError),
}

/// What is written: the dict and the moment it expires (`get_expiry_date()` at save time).
#[derive(Debug, Clone, Copy)]
pub struct SessionRecord<'a> {
    /// The session dict.
    pub data: &'a SessionData,
    /// When the record stops loading.
    pub expire_date: DateTime<Utc>,
}

impl SessionRecord<'_> {
    /// Whole seconds until expiry, at least 1 (a TTL for stores that expire keys themselves).
    pub fn ttl_seconds(&self, now: DateTime<Utc>) -> u64 {
        (self.expire_date - now).num_seconds().max(1) as u64
    }
}

/// A session engine: Django's `SessionBase` storage operations.
///
/// `create` must never overwrite: a store reports [`StoreError::KeyExists`] and the session
/// retries with a fresh key. `load` returns `None` for a missing, expired or corrupt record.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// A short name for logs and errors (`memory`, `sqlite`, `redis`, ...).
    fn name(&self) -> &'static str;

    /// Whether a key from a cookie may be looked up at all.
    fn is_valid_key(&self, key: &str) -> bool {
        super::is_valid_session_key(key)
    }

    /// Whether the key *is* the data (signed cookies): then there is no server state, and a
    /// failed load re-issues an empty signed session instead of forgetting the key.
    fn key_is_data(&self) -> bool {
        false
    }

    /// The stored dict, if the record exists and has not expired.
    async fn load(&self, key: &str) -> Result<Option<SessionData>, StoreError>;

    /// [`load`](Self::load), with the record's expiry date when the store keeps one. A cache
    /// in front of this store (Django's `cached_db` engine) keeps its copy for exactly the
    /// time the record has left, never longer; `None` tells it not to keep one.
    async fn load_with_expiry(
        &self,
        key: &str,
    ) -> Result<Option<(SessionData, Option<DateTime<Utc>>)>, StoreError> {
        Ok(self.load(key).await?.map(|data| (data, None)))
    }

    /// Insert a new record under `key`, or fail with [`StoreError::KeyExists`]. Returns the key
    /// the client must present from now on (the same key, except for signed cookies).
    async fn create(&self, key: &str, record: SessionRecord<'_>) -> Result<String, StoreError>;

    /// Write the record. With `must_exist`, fail with [`StoreError::RecordMissing`] when it is
    /// gone instead of recreating it. Returns the key, as `create` does.
    async fn save(
        &self,
        key: &str,
        record: SessionRecord<'_>,
        must_exist: bool,
    ) -> Result<String, StoreError>;

    /// Remove the record; removing a missing record is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Whether a record exists under `key` (expired or not).
    async fn exists(&self, key: &str) -> Result<bool, StoreError>;

    /// Remove expired records; returns how many went. A no-op for stores that expire keys
    /// themselves.
    async fn clear_expired(&self) -> Result<u64, StoreError>;
}

/// Refuse an encoded session over `limit` bytes (`0` = no limit).
pub fn check_size(encoded: &str, limit: usize) -> Result<(), StoreError> {
    if limit > 0 && encoded.len() > limit {
        return Err(StoreError::TooLarge {
            size: encoded.len(),
            limit,
        });
    }
    Ok(())
}

/// A store that can return a session together with its logged-in user in one round trip
/// (a join), for requests that need both. The user is returned as stored; the caller applies
/// Django's checks (`Auth::get_user_prefetched`).
#[async_trait]
pub trait SessionUserStore: Send + Sync + 'static {
    /// The session dict (or `None` if missing or expired) and the user it names, if found.
    async fn load_session_with_user(
        &self,
        key: &str,
    ) -> Result<Option<(SessionData, Option<crate::auth::User>)>, StoreError>;

    /// The same, plus the user's permissions by `ModelBackend`'s rule (every permission for a
    /// superuser, user ∪ group permissions otherwise; the caller drops them for an inactive
    /// user) when the store can fetch them in the same round trip. `None` for the permissions
    /// means "not fetched": the caller loads them the usual way when it needs them. The
    /// default fetches none.
    async fn load_session_with_user_and_permissions(
        &self,
        key: &str,
    ) -> Result<Option<PrefetchedSession>, StoreError> {
        Ok(self
            .load_session_with_user(key)
            .await?
            .map(|(data, user)| PrefetchedSession {
                data,
                user,
                permissions: None,
            }))
    }
}

/// What [`SessionUserStore::load_session_with_user_and_permissions`] returns.
#[derive(Debug, Clone)]
pub struct PrefetchedSession {
    /// The session dict.
    pub data: SessionData,
    /// The user the session names, as stored (Django's checks still apply).
    pub user: Option<crate::auth::User>,
    /// That user's `app_label.codename` permissions, if fetched with it.
    pub permissions: Option<std::collections::BTreeSet<String>>,
}
