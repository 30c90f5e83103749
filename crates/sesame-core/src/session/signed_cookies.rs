//! The `signed_cookies` engine: the cookie value *is* the session, signed with
//! `signing.dumps(data, salt="django.contrib.sessions.backends.signed_cookies", compress=True)`.
//!
//! There is no server state, so a logout cannot revoke a copied cookie before
//! `SESSION_COOKIE_AGE` passes. Expiry is enforced only through the signing timestamp
//! against `SESSION_COOKIE_AGE`, as in Django (ticket #19201).

use super::SessionData;
use super::store::{SessionRecord, SessionStore, StoreError, check_size};
use crate::signing::{Signer, TimestampSigner, now_unix};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// The salt of Django's signed-cookie engine.
pub const SIGNED_COOKIES_SALT: &str = "django.contrib.sessions.backends.signed_cookies";

/// Browsers keep about 4 KB per cookie; a larger session is refused with a typed error
/// instead of being silently dropped by the browser.
pub const DEFAULT_MAX_COOKIE_BYTES: usize = 4093;

/// Sessions kept entirely in a signed cookie.
#[derive(Debug, Clone)]
pub struct SignedCookieStore {
    signer: TimestampSigner,
    cookie_age: i64,
    max_size: usize,
}

impl SignedCookieStore {
    /// A store signing with `secret_key`, verifying with the fallbacks too, and refusing
    /// cookies older than `cookie_age` seconds.
    pub fn new<K: AsRef<[u8]>>(
        secret_key: impl AsRef<[u8]>,
        fallback_keys: &[K],
        cookie_age: i64,
    ) -> Self {
        Self {
            signer: TimestampSigner::from_signer(
                Signer::new(secret_key)
                    .with_salt(SIGNED_COOKIES_SALT)
                    .with_fallback_keys(fallback_keys),
            ),
            cookie_age,
            max_size: DEFAULT_MAX_COOKIE_BYTES,
        }
    }

    /// Change the size limit (`0` = none).
    pub fn with_max_size(mut self, max_size: usize) -> Self {
        self.max_size = max_size;
        self
    }

    /// Load as if the time were `now` (Unix seconds).
    pub fn load_at(&self, cookie: &str, now: f64) -> Option<SessionData> {
        match self
            .signer
            .unsign_object_at(cookie, Some(self.cookie_age as f64), now)
        {
            Ok(Value::Object(map)) => Some(map),
            Ok(_) => None,
            Err(e) => {
                tracing::debug!(target: super::SUSPICIOUS_SESSION_TARGET, error = %e, "signed cookie session refused");
                None
            }
        }
    }

    /// The cookie value for `data`, signed at `timestamp`.
    pub fn encode_at(&self, data: &SessionData, timestamp: i64) -> String {
        self.signer
            .sign_object_at(&Value::Object(data.clone()), true, timestamp)
    }
}

#[async_trait]
impl SessionStore for SignedCookieStore {
    fn name(&self) -> &'static str {
        "signed_cookies"
    }

    fn is_valid_key(&self, key: &str) -> bool {
        !key.is_empty()
    }

    fn key_is_data(&self) -> bool {
        true
    }

    async fn load_with_expiry(
        &self,
        key: &str,
    ) -> Result<Option<(SessionData, Option<DateTime<Utc>>)>, StoreError> {
        // The cookie carries its signing time, not an expiry date: nothing may cache it.
        Ok(self.load_at(key, now_unix()).map(|data| (data, None)))
    }

    async fn create(&self, _key: &str, record: SessionRecord<'_>) -> Result<String, StoreError> {
        let cookie = self.encode_at(record.data, now_unix() as i64);
        check_size(&cookie, self.max_size)?;
        Ok(cookie)
    }

    /// There is no server record to update in place: only a new cookie carries new data,
    /// and `update` cannot hand one out. So nothing is updated, and [`save`](Self::save)
    /// issues the cookie instead.
    async fn update(&self, _key: &str, _record: SessionRecord<'_>) -> Result<bool, StoreError> {
        Ok(false)
    }

    /// Every save issues a new cookie (Django's `signed_cookies.SessionStore.save`): there is
    /// no record that could be missing.
    async fn save(
        &self,
        key: &str,
        record: SessionRecord<'_>,
        _must_exist: bool,
    ) -> Result<String, StoreError> {
        self.create(key, record).await
    }

    async fn delete(&self, _key: &str) -> Result<(), StoreError> {
        Ok(())
    }

    async fn exists(&self, _key: &str) -> Result<bool, StoreError> {
        Ok(false)
    }

    async fn clear_expired(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
}
