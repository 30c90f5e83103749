//! Sessions with Django's semantics: a lazily loaded dict that tracks whether it was
//! accessed and modified, Django's expiry rules, `cycle_key`, `flush`, `clear` and the
//! test-cookie helpers, over any [`SessionStore`].
//!
//! ```
//! use sesame_core::session::{Expiry, MemorySessionStore, Session, SessionCodec, SessionConfig};
//! use std::sync::Arc;
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = Arc::new(MemorySessionStore::new(SessionCodec::new("secret")));
//! let mut s = Session::new(store, SessionConfig::default(), None);
//! s.insert("theme", "dark".into()).await?;
//! s.set_expiry(Expiry::Seconds(600)).await?;
//! s.save().await?;
//! assert_eq!(s.get_expiry_age().await?, 600);
//! let old = s.session_key().unwrap().to_owned();
//! s.cycle_key().await?;
//! assert_ne!(s.session_key().unwrap(), old);
//! # Ok::<(), sesame_core::session::StoreError>(())
//! # }).unwrap();
//! ```

mod codec;
mod decode_cache;
mod expiry;
mod key;
mod memory;
mod signed_cookies;
mod store;

pub use codec::{DEFAULT_KEY_SALT, SUSPICIOUS_SESSION_TARGET, SessionCodec};
pub use decode_cache::DEFAULT_DECODE_CACHE_BYTES;
pub use expiry::{
    EXPIRY_KEY, Expiry, get_expire_at_browser_close, get_expiry_age, get_expiry_date, isoformat,
    parse_isoformat, stored_value as stored_expiry_value,
};
pub use key::{
    MAX_SESSION_KEY_LENGTH, SESSION_KEY_LENGTH, VALID_KEY_CHARS, is_valid_session_key,
    new_session_key,
};
pub use memory::MemorySessionStore;
pub use signed_cookies::{DEFAULT_MAX_COOKIE_BYTES, SIGNED_COOKIES_SALT, SignedCookieStore};
pub use store::{
    BoxError, PrefetchedSession, SessionRecord, SessionStore, SessionUserStore, StoreError,
    check_size,
};

use chrono::Utc;
use serde_json::Value;
use std::sync::Arc;

/// The session dict: JSON values under string keys, in insertion order.
pub type SessionData = serde_json::Map<String, Value>;

/// `TEST_COOKIE_NAME` and `TEST_COOKIE_VALUE`.
pub const TEST_COOKIE_NAME: &str = "testcookie";
/// The value `set_test_cookie` stores.
pub const TEST_COOKIE_VALUE: &str = "worked";

/// How many fresh keys `create` tries before giving up (Django's cache engine tries 10,000;
/// with 165-bit keys a second attempt already means a broken random source or store).
const CREATE_ATTEMPTS: usize = 100;

/// The settings a session needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// `SESSION_COOKIE_AGE`.
    pub cookie_age: i64,
    /// `SESSION_EXPIRE_AT_BROWSER_CLOSE`.
    pub expire_at_browser_close: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            cookie_age: 1_209_600,
            expire_at_browser_close: false,
        }
    }
}

impl SessionConfig {
    /// The session settings out of Sesame's settings.
    pub fn from_settings(s: &crate::settings::Settings) -> Self {
        Self {
            cookie_age: s.session.cookie_age,
            expire_at_browser_close: s.session.expire_at_browser_close,
        }
    }
}

/// One client's session: Django's `SessionBase`.
///
/// Nothing touches the store until the dict is first read or written. Methods that may load
/// are `async` and return the store's error, which the web layer turns into a 503.
///
/// In an axum application the layer of `sesame-axum` creates one per request from the
/// session cookie and saves it on the way out; build one by hand for background jobs, tests
/// or another framework. A key that names no stored session (expired, deleted, forged) reads
/// as an empty session, and saving then stores it under a fresh key.
///
/// ```
/// use sesame_core::session::{MemorySessionStore, Session, SessionCodec, SessionConfig};
/// use serde_json::json;
/// use std::sync::Arc;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = Arc::new(MemorySessionStore::new(SessionCodec::new("secret")));
///
/// // First request: no cookie yet.
/// let mut first = Session::new(store.clone(), SessionConfig::default(), None);
/// first.insert("cart", json!([3, 5])).await?;
/// first.save().await?; // creates the record and picks the key the cookie will carry
/// let cookie = first.session_key().unwrap().to_owned();
///
/// // Next request: the cookie's key; the store is read on first access.
/// let mut next = Session::new(store.clone(), SessionConfig::default(), Some(&cookie));
/// assert!(!next.accessed());
/// assert_eq!(next.get("cart").await?, Some(json!([3, 5])));
///
/// // Logout: the record is deleted and the key dropped.
/// next.flush().await?;
/// assert_eq!(next.session_key(), None);
/// let mut stale = Session::new(store, SessionConfig::default(), Some(&cookie));
/// assert_eq!(stale.get("cart").await?, None);
/// assert_eq!(stale.session_key(), None); // never adopts a key the server did not issue
/// # Ok::<(), sesame_core::session::StoreError>(())
/// # }).unwrap();
/// ```
pub struct Session {
    store: Arc<dyn SessionStore>,
    config: SessionConfig,
    key: Option<String>,
    cache: Option<SessionData>,
    accessed: bool,
    modified: bool,
    // The stored record holds exactly `cache`, written by this request (a `create` or `save`
    // with nothing changed since): saving again would only repeat the write. It keeps the last
    // store write of a password change at the change itself, so that an outage after it cannot
    // turn a completed change into an error (see `Auth::change_password`).
    in_store: bool,
}

/// What [`Session::restore`] puts back: the state before a multi-step change that failed.
#[derive(Clone)]
pub(crate) struct Checkpoint {
    key: Option<String>,
    cache: Option<SessionData>,
    accessed: bool,
    modified: bool,
    in_store: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key in full: it is a bearer credential.
        f.debug_struct("Session")
            .field("store", &self.store.name())
            .field(
                "key",
                &self
                    .key
                    .as_deref()
                    .map(|k| format!("{}…", &k[..k.len().min(6)])),
            )
            .field("loaded", &self.cache.is_some())
            .field("accessed", &self.accessed)
            .field("modified", &self.modified)
            .finish()
    }
}

impl Session {
    /// A session for the key a client presented (or none). An invalid key counts as none.
    pub fn new(store: Arc<dyn SessionStore>, config: SessionConfig, key: Option<&str>) -> Self {
        let key = key.filter(|k| store.is_valid_key(k)).map(str::to_owned);
        Self {
            store,
            config,
            key,
            cache: None,
            accessed: false,
            modified: false,
            in_store: false,
        }
    }

    /// The current key, if any.
    pub fn session_key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The store behind this session.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.store
    }

    /// The session settings.
    pub fn config(&self) -> SessionConfig {
        self.config
    }

    /// Whether the dict was read or written during this request.
    pub fn accessed(&self) -> bool {
        self.accessed
    }

    /// Whether the dict was changed during this request.
    pub fn modified(&self) -> bool {
        self.modified
    }

    /// Whether the dict has been loaded from the store.
    pub fn is_loaded(&self) -> bool {
        self.cache.is_some()
    }

    /// Give the session the dict a store already returned (e.g. together with the user, in
    /// one round trip), as if `load` had run: accessed, not modified. `None` means the record
    /// was not found, which drops the key as a failed load does.
    pub fn set_loaded(&mut self, data: Option<SessionData>) {
        self.accessed = true;
        match data {
            Some(d) => self.cache = Some(d),
            None => {
                if !self.store.key_is_data() {
                    self.key = None;
                }
                self.cache = Some(SessionData::new());
            }
        }
    }

    /// Mark the session as modified, e.g. after changing a nested value in place.
    pub fn mark_modified(&mut self) {
        self.touch();
    }

    /// The dict changed: it must be written (and the cookie sent) on the way out.
    fn touch(&mut self) {
        self.modified = true;
        self.in_store = false;
    }

    /// Django's `is_empty`: no key, and nothing loaded or an empty dict.
    pub fn is_empty(&self) -> bool {
        self.key.is_none() && self.cache.as_ref().is_none_or(|c| c.is_empty())
    }

    async fn data(&mut self) -> Result<&mut SessionData, StoreError> {
        self.accessed = true;
        if self.cache.is_none() {
            let loaded = match &self.key {
                None => SessionData::new(),
                Some(key) => match self.store.load(key).await? {
                    Some(data) => data,
                    None if self.store.key_is_data() => {
                        // Django's signed_cookies engine re-issues a signed empty session.
                        self.touch();
                        SessionData::new()
                    }
                    None => {
                        // Never adopt an identifier the server did not issue.
                        self.key = None;
                        SessionData::new()
                    }
                },
            };
            self.cache = Some(loaded);
        }
        Ok(self.cache.get_or_insert_with(SessionData::new))
    }

    /// A read-only view of the whole dict (loads it).
    pub async fn load(&mut self) -> Result<&SessionData, StoreError> {
        Ok(&*self.data().await?)
    }

    /// `session[key]` / `session.get(key)`.
    pub async fn get(&mut self, key: &str) -> Result<Option<Value>, StoreError> {
        Ok(self.data().await?.get(key).cloned())
    }

    /// `key in session`.
    pub async fn contains_key(&mut self, key: &str) -> Result<bool, StoreError> {
        Ok(self.data().await?.contains_key(key))
    }

    /// `session[key] = value`; returns the previous value.
    pub async fn insert(&mut self, key: &str, value: Value) -> Result<Option<Value>, StoreError> {
        let old = self.data().await?.insert(key.to_owned(), value);
        self.touch();
        Ok(old)
    }

    /// `session.pop(key)`: modified only if the key was there.
    pub async fn remove(&mut self, key: &str) -> Result<Option<Value>, StoreError> {
        let old = self.data().await?.shift_remove(key);
        if old.is_some() {
            self.touch();
        }
        Ok(old)
    }

    /// `session.setdefault(key, value)`: modified only when inserting.
    pub async fn setdefault(&mut self, key: &str, value: Value) -> Result<Value, StoreError> {
        let data = self.data().await?;
        if let Some(v) = data.get(key) {
            return Ok(v.clone());
        }
        data.insert(key.to_owned(), value.clone());
        self.touch();
        Ok(value)
    }

    /// `session.update(other)`.
    pub async fn update(&mut self, other: SessionData) -> Result<(), StoreError> {
        let data = self.data().await?;
        for (k, v) in other {
            data.insert(k, v);
        }
        self.touch();
        Ok(())
    }

    /// The keys, in insertion order.
    pub async fn keys(&mut self) -> Result<Vec<String>, StoreError> {
        Ok(self.data().await?.keys().cloned().collect())
    }

    /// `clear()`: empty the dict but keep the key. Needs no load.
    pub fn clear(&mut self) {
        self.cache = Some(SessionData::new());
        self.accessed = true;
        self.touch();
    }

    /// `flush()`: delete the stored record, then clear the dict and drop the key. The web
    /// layer then deletes the cookie.
    ///
    /// All or nothing: when the store fails, the error comes back and the session is left as
    /// it was (key, dict and flags), so that a 503 changes nothing, not even the cookie.
    /// Django clears first; here a failed logout must not look like a done one in the browser
    /// while the record still opens the session for whoever else holds the key.
    pub async fn flush(&mut self) -> Result<(), StoreError> {
        if let Some(key) = &self.key {
            self.store.delete(key).await?;
        }
        self.key = None;
        self.clear();
        Ok(())
    }

    /// `cycle_key()`: keep the data under a new key and delete the old record (fixation
    /// defence at login).
    ///
    /// All or nothing, as [`flush`](Self::flush): if the old record cannot be deleted, the new
    /// one is deleted again (as far as the store allows; nobody was given its key) and the
    /// session keeps its old key.
    pub async fn cycle_key(&mut self) -> Result<(), StoreError> {
        let checkpoint = self.checkpoint();
        let old = match self.rekey().await {
            Ok(old) => old,
            Err(e) => {
                self.restore(checkpoint);
                return Err(e);
            }
        };
        if let Some(old) = old {
            if let Err(e) = self.store.delete(&old).await {
                self.abandon_rekey(checkpoint).await;
                return Err(e);
            }
        }
        Ok(())
    }

    /// The first half of [`cycle_key`](Self::cycle_key): the dict stored under a fresh key,
    /// the old record left in place. Returns the old key (`None` when there was none, or for
    /// signed cookies, where there is no record to delete). On error the caller puts back
    /// the [`checkpoint`](Self::checkpoint) it took before (every caller takes one anyway,
    /// for its later steps, so the dict is copied once).
    pub(crate) async fn rekey(&mut self) -> Result<Option<String>, StoreError> {
        self.data().await?;
        let old = self.key.take();
        self.create().await?;
        Ok(old.filter(|_| !self.store.key_is_data()))
    }

    /// Undo a [`rekey`](Self::rekey): back to `checkpoint`, and the record under the new key
    /// deleted. If that delete fails the record is only an orphan: its key was never sent to
    /// anyone, and it expires.
    pub(crate) async fn abandon_rekey(&mut self, checkpoint: Checkpoint) {
        let new = self.key.clone().filter(|_| !self.store.key_is_data());
        self.restore(checkpoint);
        if let Some(new) = new {
            if let Err(e) = self.store.delete(&new).await {
                tracing::warn!(
                    target: "sesame",
                    error = %e,
                    "could not delete the session record of an abandoned key change; \
                     nobody holds its key and it expires"
                );
            }
        }
    }

    /// The state to go back to if a multi-step change fails.
    pub(crate) fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            key: self.key.clone(),
            cache: self.cache.clone(),
            accessed: self.accessed,
            modified: self.modified,
            in_store: self.in_store,
        }
    }

    /// Go back to a [`checkpoint`](Self::checkpoint).
    pub(crate) fn restore(&mut self, checkpoint: Checkpoint) {
        self.key = checkpoint.key;
        self.cache = checkpoint.cache;
        self.accessed = checkpoint.accessed;
        self.modified = checkpoint.modified;
        self.in_store = checkpoint.in_store;
    }

    /// `set_expiry(value)`.
    pub async fn set_expiry(&mut self, expiry: Expiry) -> Result<(), StoreError> {
        match expiry::stored_value(expiry, Utc::now()) {
            Some(v) => {
                self.insert(EXPIRY_KEY, v).await?;
            }
            None => {
                self.data().await?.shift_remove(EXPIRY_KEY);
                self.touch();
            }
        }
        Ok(())
    }

    /// `get_expiry_age()`: seconds from now until expiry.
    pub async fn get_expiry_age(&mut self) -> Result<i64, StoreError> {
        let age = self.config.cookie_age;
        Ok(get_expiry_age(self.data().await?, age, Utc::now()))
    }

    /// `get_expiry_date()`.
    pub async fn get_expiry_date(&mut self) -> Result<chrono::DateTime<Utc>, StoreError> {
        let age = self.config.cookie_age;
        Ok(get_expiry_date(self.data().await?, age, Utc::now()))
    }

    /// `get_expire_at_browser_close()`.
    pub async fn get_expire_at_browser_close(&mut self) -> Result<bool, StoreError> {
        let default = self.config.expire_at_browser_close;
        Ok(get_expire_at_browser_close(self.data().await?, default))
    }

    /// `set_test_cookie()`.
    pub async fn set_test_cookie(&mut self) -> Result<(), StoreError> {
        self.insert(TEST_COOKIE_NAME, TEST_COOKIE_VALUE.into())
            .await
            .map(drop)
    }

    /// `test_cookie_worked()`.
    pub async fn test_cookie_worked(&mut self) -> Result<bool, StoreError> {
        Ok(self
            .get(TEST_COOKIE_NAME)
            .await?
            .as_ref()
            .and_then(Value::as_str)
            == Some(TEST_COOKIE_VALUE))
    }

    /// `delete_test_cookie()`.
    pub async fn delete_test_cookie(&mut self) -> Result<(), StoreError> {
        self.remove(TEST_COOKIE_NAME).await.map(drop)
    }

    /// Store the dict under a fresh key, retrying on collisions (`create()`).
    pub async fn create(&mut self) -> Result<(), StoreError> {
        let data = self.cache.take().unwrap_or_default();
        let result = self.create_with(&data).await;
        self.cache = Some(data);
        result
    }

    async fn create_with(&mut self, data: &SessionData) -> Result<(), StoreError> {
        let record = SessionRecord {
            data,
            expire_date: get_expiry_date(data, self.config.cookie_age, Utc::now()),
        };
        for _ in 0..CREATE_ATTEMPTS {
            let candidate = new_session_key();
            match self.store.create(&candidate, record).await {
                Ok(key) => {
                    self.key = Some(key);
                    // Modified, so that the cookie goes out; but the record is current.
                    self.modified = true;
                    self.in_store = true;
                    return Ok(());
                }
                Err(StoreError::KeyExists) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Backend(
            format!("no free session key after {CREATE_ATTEMPTS} attempts").into(),
        ))
    }

    /// `save()`: create when there is no key yet, else update the record, which must still
    /// exist ([`StoreError::RecordMissing`] otherwise: Django answers 400).
    pub async fn save(&mut self) -> Result<(), StoreError> {
        // An untouched session (SESSION_SAVE_EVERY_REQUEST) is loaded first, as Django does,
        // so that saving never overwrites the record with an empty dict. Loading may also
        // find the record gone, and then there is no key any more.
        self.data().await?;
        let Some(key) = self.key.clone() else {
            return self.create().await;
        };
        if self.in_store {
            return Ok(());
        }
        let data = self.cache.take().unwrap_or_default();
        let record = SessionRecord {
            data: &data,
            expire_date: get_expiry_date(&data, self.config.cookie_age, Utc::now()),
        };
        let result = self.store.save(&key, record, true).await;
        self.cache = Some(data);
        self.key = Some(result?);
        self.in_store = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
