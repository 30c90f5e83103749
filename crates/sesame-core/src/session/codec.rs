//! The `session_data` codec: `signing.dumps(data, salt=key_salt, compress=True)`.

use super::SessionData;
use super::decode_cache::{DEFAULT_DECODE_CACHE_BYTES, DecodeCache};
use crate::signing::{Signer, SigningError, TimestampSigner, decode_payload_sized, now_unix};
use serde_json::Value;
use std::sync::Arc;

/// The key salt of every built-in Django engine (`db`, `cache`, `cached_db`, `file`).
pub const DEFAULT_KEY_SALT: &str = "django.contrib.sessions.SessionStore";

/// Where security warnings go, named after Django's logger.
pub const SUSPICIOUS_SESSION_TARGET: &str = "django.security.SuspiciousSession";

/// Encodes and decodes session dicts in Django's signed format.
///
/// ```
/// use sesame_core::session::SessionCodec;
/// use serde_json::json;
/// let codec = SessionCodec::new("django_tests_secret_key");
/// let data = json!({"a test key": "a test value"}).as_object().unwrap().clone();
/// assert_eq!(
///     codec.encode_at(&data, 1_700_000_000),
///     "eyJhIHRlc3Qga2V5IjoiYSB0ZXN0IHZhbHVlIn0:1r31eq:z3T5kuYwaLspnAAUpfRWpbinC-rn6c6P1Qf9PsCyZ2s"
/// );
/// assert_eq!(codec.decode("bad:encoded:value"), Default::default());
/// ```
///
/// Successful decodes are kept by their exact text, up to
/// [`DEFAULT_DECODE_CACHE_BYTES`](super::DEFAULT_DECODE_CACHE_BYTES) unless
/// [`with_decode_cache`](Self::with_decode_cache) says otherwise: a client sends the same
/// `session_data` on every request until it changes, and the store is still asked each time.
#[derive(Debug, Clone)]
pub struct SessionCodec {
    signer: TimestampSigner,
    decoded: Option<Arc<DecodeCache>>,
}

impl SessionCodec {
    /// A codec with the default salt and no fallback keys.
    pub fn new(secret_key: impl AsRef<[u8]>) -> Self {
        Self::with_salt(secret_key, &[] as &[&str], DEFAULT_KEY_SALT)
    }

    /// A codec with fallback keys and a key salt (`django.contrib.sessions.` + the store's
    /// class `__qualname__`).
    ///
    /// Use it when the Django site has `SECRET_KEY_FALLBACKS` (sessions signed with an old key
    /// keep working until they expire) or a custom engine class, whose `__qualname__` changes
    /// the salt.
    ///
    /// ```
    /// use sesame_core::session::{DEFAULT_KEY_SALT, SessionCodec};
    /// use serde_json::json;
    ///
    /// let before = SessionCodec::new("old-key");
    /// let data = json!({"_auth_user_id": "1"}).as_object().unwrap().clone();
    /// let stored = before.encode(&data);
    ///
    /// // The key was rotated: the old one stays as a fallback.
    /// let after = SessionCodec::with_salt("new-key", &["old-key"], DEFAULT_KEY_SALT);
    /// assert_eq!(after.decode(&stored), data);
    /// // Without it, the old sessions read as empty (their users are logged out).
    /// assert!(SessionCodec::new("new-key").decode(&stored).is_empty());
    /// ```
    pub fn with_salt<K: AsRef<[u8]>>(
        secret_key: impl AsRef<[u8]>,
        fallback_keys: &[K],
        key_salt: &str,
    ) -> Self {
        Self {
            signer: TimestampSigner::from_signer(
                Signer::new(secret_key)
                    .with_salt(key_salt)
                    .with_fallback_keys(fallback_keys),
            ),
            decoded: DecodeCache::new(DEFAULT_DECODE_CACHE_BYTES).map(Arc::new),
        }
    }

    /// The codec for Sesame's settings (`session_decode_cache_bytes` included).
    pub fn from_settings(settings: &crate::settings::Settings) -> Self {
        Self::with_salt(
            &settings.secret_key,
            &settings.secret_key_fallbacks,
            &settings.session.key_salt,
        )
        .with_decode_cache(settings.session.decode_cache_bytes)
    }

    /// Keep at most `bytes` of decoded sessions (their text and JSON); `0` turns the cache
    /// off, so that every decode checks the signature and inflates the payload again.
    ///
    /// ```
    /// use sesame_core::session::SessionCodec;
    /// let codec = SessionCodec::new("secret").with_decode_cache(0);
    /// let text = codec.encode(&Default::default());
    /// assert!(codec.decode(&text).is_empty());
    /// ```
    pub fn with_decode_cache(mut self, bytes: usize) -> Self {
        self.decoded = DecodeCache::new(bytes).map(Arc::new);
        self
    }

    /// Encode with the current time.
    pub fn encode(&self, data: &SessionData) -> String {
        self.encode_at(data, now_unix() as i64)
    }

    /// Encode now, refusing results over `max_size` bytes (`0` = no limit) with
    /// [`super::StoreError::TooLarge`]: what every store that keeps `session_data` does.
    pub fn encode_checked(
        &self,
        data: &SessionData,
        max_size: usize,
    ) -> Result<String, super::StoreError> {
        let encoded = self.encode(data);
        super::check_size(&encoded, max_size)?;
        Ok(encoded)
    }

    /// Encode with the given Unix time in the signature.
    pub fn encode_at(&self, data: &SessionData, timestamp: i64) -> String {
        // The map is cloned into a `Value` only to reuse the one JSON writer.
        self.signer
            .sign_object_at(&Value::Object(data.clone()), true, timestamp)
    }

    /// Decode, reporting why it failed. The timestamp is not checked: the store decides expiry.
    ///
    /// ```
    /// use sesame_core::session::SessionCodec;
    /// use sesame_core::signing::SigningError;
    ///
    /// let codec = SessionCodec::new("secret");
    /// let stored = codec.encode(&Default::default());
    /// assert!(codec.try_decode(&stored).unwrap().is_empty());
    /// let forged = SessionCodec::new("guess").encode(&Default::default());
    /// assert_eq!(codec.try_decode(&forged), Err(SigningError::BadSignature));
    /// ```
    ///
    /// # Errors
    ///
    /// A bad signature (forged, or signed with a key that is no longer configured), or
    /// [`SigningError::Payload`] when a validly signed payload is not a JSON object. Use
    /// [`decode`](Self::decode) to get Django's behaviour of an empty session instead.
    pub fn try_decode(&self, encoded: &str) -> Result<SessionData, SigningError> {
        let Some(cache) = &self.decoded else {
            return self.decode_uncached(encoded).map(|(map, _)| map);
        };
        if let Some(hit) = cache.get(encoded) {
            return Ok(hit.data.clone());
        }
        let (map, json_len) = self.decode_uncached(encoded)?;
        Ok(cache.insert(encoded, map, json_len).data.clone())
    }

    /// Verify and decode, with the length of the JSON (what a cache entry weighs).
    fn decode_uncached(&self, encoded: &str) -> Result<(SessionData, usize), SigningError> {
        let payload = self.signer.unsign_at(encoded, None, 0.0)?;
        match decode_payload_sized(payload)? {
            (Value::Object(map), json_len) => Ok((map, json_len)),
            _ => Err(SigningError::Payload(
                "the session is not a JSON object".into(),
            )),
        }
    }

    /// Django's `decode`: forged or corrupt data gives an empty session, never an error. A bad
    /// signature is logged as a warning (`Session data corrupted`), like Django.
    pub fn decode(&self, encoded: &str) -> SessionData {
        match self.try_decode(encoded) {
            Ok(map) => map,
            Err(e) if e.is_bad_signature() => {
                tracing::warn!(target: SUSPICIOUS_SESSION_TARGET, error = %e, "Session data corrupted");
                SessionData::new()
            }
            Err(e) => {
                tracing::debug!(target: SUSPICIOUS_SESSION_TARGET, error = %e, "session payload unreadable");
                SessionData::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn session(n: usize) -> SessionData {
        json!({"_auth_user_id": n.to_string(), "_auth_user_hash": "h".repeat(64), "n": n})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    fn cache(codec: &SessionCodec) -> &DecodeCache {
        codec.decoded.as_deref().expect("the codec has a cache")
    }

    #[test]
    fn a_cached_decode_gives_what_a_fresh_one_does() {
        let codec = SessionCodec::new("k");
        let uncached = SessionCodec::new("k").with_decode_cache(0);
        assert!(uncached.decoded.is_none());
        let text = codec.encode(&session(1));
        assert_eq!(cache(&codec).len(), 0);
        let first = codec.decode(&text);
        assert_eq!(cache(&codec).len(), 1);
        assert_eq!(codec.decode(&text), first);
        assert_eq!(uncached.decode(&text), first);
        assert_eq!(first, session(1));
        // The clones share one cache.
        assert_eq!(cache(&codec.clone()).len(), 1);
    }

    #[test]
    fn only_verified_text_is_kept_and_found() {
        let codec = SessionCodec::new("k");
        let text = codec.encode(&session(1));
        assert_eq!(codec.decode(&text), session(1));
        // One character changed anywhere is a different text: checked in full, refused.
        for at in [0, text.len() / 2, text.len() - 1] {
            let mut bytes = text.clone().into_bytes();
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            let forged = String::from_utf8(bytes).unwrap();
            assert_eq!(
                codec.try_decode(&forged),
                Err(SigningError::BadSignature),
                "{forged}"
            );
        }
        // Signed with another key: refused, and the other key's good decode does not leak.
        let other = SessionCodec::new("other");
        let theirs = other.encode(&session(2));
        assert_eq!(other.decode(&theirs), session(2));
        assert_eq!(codec.try_decode(&theirs), Err(SigningError::BadSignature));
        // A signed payload that is not an object is an error each time, never kept.
        let list = codec.signer.sign_object(&json!([1]), true);
        assert!(codec.try_decode(&list).is_err());
        assert!(codec.try_decode(&list).is_err());
        assert_eq!(cache(&codec).len(), 1);
    }

    #[test]
    fn the_cache_stays_within_its_budget() {
        let codec = SessionCodec::new("k").with_decode_cache(4096);
        for n in 0..200 {
            let text = codec.encode(&session(n));
            assert_eq!(codec.decode(&text), session(n));
            assert_eq!(codec.decode(&text), session(n));
        }
        assert!(cache(&codec).weight() <= 4096, "{:?}", codec.decoded);
        assert!(cache(&codec).len() < 200);
        // An entry over the whole budget is decoded but not kept.
        let tiny = SessionCodec::new("k").with_decode_cache(64);
        let text = tiny.encode(&session(1));
        assert_eq!(tiny.decode(&text), session(1));
        assert_eq!(cache(&tiny).len(), 0);
    }

    #[test]
    fn settings_size_the_cache() {
        let settings = crate::settings::Settings {
            secret_key: "k".into(),
            ..Default::default()
        };
        assert!(SessionCodec::from_settings(&settings).decoded.is_some());
        let mut off = settings;
        off.session.decode_cache_bytes = 0;
        assert!(SessionCodec::from_settings(&off).decoded.is_none());
    }
}
