//! The [`SessionStore`] trait: the six operations every engine provides. All the semantics
//! (expiry, the modified flag, cycling keys) live once, in [`super::Session`].
//!
//! # Implementing a custom store
//!
//! A store answers six questions about records keyed by session key: load one (with its
//! expiry date if it knows it), create one without overwriting, update one in place (saying
//! whether it was there), delete one, tell whether one exists, and drop the expired ones.
//! [`SessionStore::load`] and [`SessionStore::save`] (update, else create, retrying on a race)
//! come with the trait. The key is already validated and the dict already built by
//! [`Session`](super::Session); a store only keeps bytes. Encoding with a
//! [`SessionCodec`](super::SessionCodec) keeps the records readable by Django.
//!
//! A complete store over a `Mutex<HashMap>`:
//!
//! ```
//! use async_trait::async_trait;
//! use chrono::{DateTime, Utc};
//! use sesame_core::session::{
//!     Session, SessionCodec, SessionConfig, SessionData, SessionRecord, SessionStore,
//!     StoreError,
//! };
//! use std::collections::HashMap;
//! use std::sync::{Arc, Mutex, MutexGuard};
//!
//! struct MapStore {
//!     codec: SessionCodec,
//!     records: Mutex<HashMap<String, (String, DateTime<Utc>)>>,
//! }
//!
//! impl MapStore {
//!     fn records(&self) -> MutexGuard<'_, HashMap<String, (String, DateTime<Utc>)>> {
//!         // Every write is a single insert or remove: a poisoned map is still consistent.
//!         self.records.lock().unwrap_or_else(|e| e.into_inner())
//!     }
//! }
//!
//! #[async_trait]
//! impl SessionStore for MapStore {
//!     fn name(&self) -> &'static str {
//!         "map"
//!     }
//!
//!     async fn load_with_expiry(
//!         &self,
//!         key: &str,
//!     ) -> Result<Option<(SessionData, Option<DateTime<Utc>>)>, StoreError> {
//!         let records = self.records();
//!         Ok(records
//!             .get(key)
//!             .filter(|(_, expires)| *expires > Utc::now())
//!             .map(|(encoded, expires)| (self.codec.decode(encoded), Some(*expires))))
//!     }
//!
//!     async fn create(&self, key: &str, record: SessionRecord<'_>) -> Result<String, StoreError> {
//!         let encoded = self.codec.encode(record.data);
//!         let mut records = self.records();
//!         if records.contains_key(key) {
//!             return Err(StoreError::KeyExists);
//!         }
//!         records.insert(key.to_owned(), (encoded, record.expire_date));
//!         Ok(key.to_owned())
//!     }
//!
//!     async fn update(&self, key: &str, record: SessionRecord<'_>) -> Result<bool, StoreError> {
//!         let encoded = self.codec.encode(record.data);
//!         Ok(match self.records().get_mut(key) {
//!             Some(stored) => {
//!                 *stored = (encoded, record.expire_date);
//!                 true
//!             }
//!             None => false,
//!         })
//!     }
//!
//!     async fn delete(&self, key: &str) -> Result<(), StoreError> {
//!         self.records().remove(key);
//!         Ok(())
//!     }
//!
//!     async fn exists(&self, key: &str) -> Result<bool, StoreError> {
//!         Ok(self.records().contains_key(key))
//!     }
//!
//!     async fn clear_expired(&self) -> Result<u64, StoreError> {
//!         let now = Utc::now();
//!         let mut records = self.records();
//!         let before = records.len();
//!         records.retain(|_, (_, expires)| *expires > now);
//!         Ok((before - records.len()) as u64)
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = Arc::new(MapStore {
//!     codec: SessionCodec::new("secret"),
//!     records: Mutex::default(),
//! });
//! let mut session = Session::new(store.clone(), SessionConfig::default(), None);
//! session.insert("theme", "dark".into()).await?;
//! session.save().await?;
//! let key = session.session_key().unwrap().to_owned();
//!
//! let mut again = Session::new(store, SessionConfig::default(), Some(&key));
//! assert_eq!(again.get("theme").await?, Some("dark".into()));
//! # Ok::<(), StoreError>(())
//! # }).unwrap();
//! ```
//!
//! Stores that ship with Sesame run the shared conformance suite
//! (`sesame_core::conformance::session_store_suite`, behind the `conformance` feature); a
//! custom store can run it too, from its tests.

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
/// A store implements six operations: [`load_with_expiry`](Self::load_with_expiry),
/// [`create`](Self::create), [`update`](Self::update), [`delete`](Self::delete),
/// [`exists`](Self::exists) and [`clear_expired`](Self::clear_expired). [`load`](Self::load)
/// and [`save`](Self::save) are built on them once, here.
///
/// `create` must never overwrite: a store reports [`StoreError::KeyExists`] and the session
/// retries with a fresh key. A load returns `None` for a missing, expired or corrupt record.
///
/// Keys reach a store already checked: [`Session`](super::Session) drops a cookie key that
/// fails [`is_valid_key`](Self::is_valid_key) before any lookup, so a store does not repeat
/// the check.
///
/// # Examples
///
/// Any store is used through a [`Session`](super::Session); the raw operations are rarely
/// called directly, but they behave like this:
///
/// ```
/// use chrono::{TimeDelta, Utc};
/// use sesame_core::session::{
///     MemorySessionStore, SessionCodec, SessionData, SessionRecord, SessionStore, StoreError,
///     new_session_key,
/// };
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemorySessionStore::new(SessionCodec::new("secret"));
/// let mut data = SessionData::new();
/// data.insert("cart".into(), serde_json::json!([1, 2]));
/// let record = SessionRecord { data: &data, expire_date: Utc::now() + TimeDelta::hours(1) };
///
/// let key = new_session_key();
/// store.create(&key, record).await?;
/// assert!(matches!(store.create(&key, record).await, Err(StoreError::KeyExists)));
/// assert_eq!(store.load(&key).await?, Some(data.clone()));
///
/// // `update` reports a vanished record instead of recreating it ...
/// assert!(!store.update(&new_session_key(), record).await?);
/// // ... and `save(must_exist)` turns that into `RecordMissing` (Django's `UpdateError`).
/// let gone = new_session_key();
/// assert!(matches!(store.save(&gone, record, true).await, Err(StoreError::RecordMissing)));
/// # Ok::<(), StoreError>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// A short name for logs and errors (`memory`, `sqlite`, `redis`, ...).
    fn name(&self) -> &'static str;

    /// Whether a key from a cookie may be looked up at all. [`Session`](super::Session) asks
    /// this once, when it is built; signed cookies accept any non-empty key, since theirs is
    /// the signed data.
    fn is_valid_key(&self, key: &str) -> bool {
        super::is_valid_session_key(key)
    }

    /// Whether the key *is* the data (signed cookies): then there is no server state, and a
    /// failed load re-issues an empty signed session instead of forgetting the key.
    fn key_is_data(&self) -> bool {
        false
    }

    /// The stored dict, if the record exists and has not expired, with the record's expiry
    /// date when the store keeps one. A cache in front of this store (Django's `cached_db`
    /// engine) keeps its copy for exactly the time the record has left, never longer; `None`
    /// for the date tells it not to keep one.
    async fn load_with_expiry(
        &self,
        key: &str,
    ) -> Result<Option<(SessionData, Option<DateTime<Utc>>)>, StoreError>;

    /// The stored dict, if the record exists and has not expired.
    async fn load(&self, key: &str) -> Result<Option<SessionData>, StoreError> {
        Ok(self.load_with_expiry(key).await?.map(|(data, _)| data))
    }

    /// Insert a new record under `key`, or fail with [`StoreError::KeyExists`]. Returns the key
    /// the client must present from now on (the same key, except for signed cookies).
    async fn create(&self, key: &str, record: SessionRecord<'_>) -> Result<String, StoreError>;

    /// Replace the record under `key` if there is one (expired or not); `false` when there
    /// is none, in which case nothing is written.
    async fn update(&self, key: &str, record: SessionRecord<'_>) -> Result<bool, StoreError>;

    /// Write the record. With `must_exist`, fail with [`StoreError::RecordMissing`] when it is
    /// gone instead of recreating it. Returns the key, as `create` does.
    ///
    /// Provided: [`update`](Self::update); if the record is gone and may be recreated,
    /// [`create`](Self::create); if another writer created it in between, `update` again, as
    /// an upsert would. A store overrides this only when a write gives the client a new key
    /// (signed cookies).
    async fn save(
        &self,
        key: &str,
        record: SessionRecord<'_>,
        must_exist: bool,
    ) -> Result<String, StoreError> {
        if self.update(key, record).await? {
            return Ok(key.to_owned());
        }
        if must_exist {
            return Err(StoreError::RecordMissing);
        }
        match self.create(key, record).await {
            Err(StoreError::KeyExists) => match self.update(key, record).await? {
                true => Ok(key.to_owned()),
                // Created and deleted again by others in between: the record is gone.
                false => Err(StoreError::RecordMissing),
            },
            other => other,
        }
    }

    /// Remove the record; removing a missing record is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Whether a record exists under `key` (expired or not).
    async fn exists(&self, key: &str) -> Result<bool, StoreError>;

    /// Remove expired records; returns how many went. Stores that expire keys themselves
    /// return 0 (there is no default: for a store that keeps expired records, 0 would be a
    /// lie).
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
