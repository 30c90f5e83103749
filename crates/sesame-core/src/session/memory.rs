//! An in-process store, for tests and single-process services. It keeps the encoded
//! `session_data` string, as the `db` engine does, so it exercises the same codec.

use super::store::{SessionRecord, SessionStore, StoreError};
use super::{SessionCodec, SessionData};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;

/// Sessions in a `HashMap` behind a mutex.
///
/// ```
/// use sesame_core::session::{MemorySessionStore, Session, SessionCodec, SessionConfig};
/// use std::sync::Arc;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = Arc::new(MemorySessionStore::new(SessionCodec::new("secret")));
/// let mut session = Session::new(store.clone(), SessionConfig::default(), None);
/// session.insert("cart", serde_json::json!([1, 2])).await.unwrap();
/// session.save().await.unwrap();
/// let key = session.session_key().unwrap().to_owned();
/// let mut again = Session::new(store, SessionConfig::default(), Some(&key));
/// assert_eq!(again.get("cart").await.unwrap(), Some(serde_json::json!([1, 2])));
/// # });
/// ```
#[derive(Debug)]
pub struct MemorySessionStore {
    codec: SessionCodec,
    max_size: usize,
    records: std::sync::Arc<Mutex<Records>>,
}

/// Encoded `session_data` and `expire_date` by key.
type Records = HashMap<String, (String, DateTime<Utc>)>;

impl MemorySessionStore {
    /// An empty store with no size limit.
    pub fn new(codec: SessionCodec) -> Self {
        Self {
            codec,
            max_size: 0,
            records: Default::default(),
        }
    }

    /// A store over the same records with another codec: what a process sees after its
    /// `SECRET_KEY` rotates (the new key, with the old one among the fallbacks).
    pub fn with_codec(&self, codec: SessionCodec) -> Self {
        Self {
            codec,
            max_size: self.max_size,
            records: self.records.clone(),
        }
    }

    /// Refuse encoded sessions over `max_size` bytes (`0` = no limit).
    pub fn with_max_size(mut self, max_size: usize) -> Self {
        self.max_size = max_size;
        self
    }

    /// The number of records, expired ones included.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the store holds no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Records> {
        // A panic while holding the lock cannot leave a half-written entry behind, so the
        // map is still consistent after poisoning.
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn load_with_expiry(
        &self,
        key: &str,
    ) -> Result<Option<(SessionData, Option<DateTime<Utc>>)>, StoreError> {
        let found = self
            .lock()
            .get(key)
            .filter(|(_, expires)| *expires > Utc::now())
            .cloned();
        Ok(found.map(|(data, expires)| (self.codec.decode(&data), Some(expires))))
    }

    async fn create(&self, key: &str, record: SessionRecord<'_>) -> Result<String, StoreError> {
        let encoded = self.codec.encode_checked(record.data, self.max_size)?;
        let mut map = self.lock();
        if map.contains_key(key) {
            return Err(StoreError::KeyExists);
        }
        map.insert(key.to_owned(), (encoded, record.expire_date));
        Ok(key.to_owned())
    }

    async fn update(&self, key: &str, record: SessionRecord<'_>) -> Result<bool, StoreError> {
        let encoded = self.codec.encode_checked(record.data, self.max_size)?;
        match self.lock().get_mut(key) {
            Some(stored) => {
                *stored = (encoded, record.expire_date);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.lock().remove(key);
        Ok(())
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.lock().contains_key(key))
    }

    async fn clear_expired(&self) -> Result<u64, StoreError> {
        let now = Utc::now();
        let mut map = self.lock();
        let before = map.len();
        map.retain(|_, (_, expires)| *expires >= now);
        Ok((before - map.len()) as u64)
    }
}
