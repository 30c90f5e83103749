//! The `session_data` codec: `signing.dumps(data, salt=key_salt, compress=True)`.

use super::SessionData;
use crate::signing::{Signer, SigningError, TimestampSigner, now_unix};
use serde_json::Value;

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
#[derive(Debug, Clone)]
pub struct SessionCodec {
    signer: TimestampSigner,
}

impl SessionCodec {
    /// A codec with the default salt and no fallback keys.
    pub fn new(secret_key: impl AsRef<[u8]>) -> Self {
        Self::with_salt(secret_key, &[] as &[&str], DEFAULT_KEY_SALT)
    }

    /// A codec with fallback keys and a key salt (`django.contrib.sessions.` + the store's
    /// class `__qualname__`).
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
        }
    }

    /// The codec for Sesame's settings.
    pub fn from_settings(settings: &crate::settings::Settings) -> Self {
        Self::with_salt(
            &settings.secret_key,
            &settings.secret_key_fallbacks,
            &settings.session_key_salt,
        )
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
    pub fn try_decode(&self, encoded: &str) -> Result<SessionData, SigningError> {
        match self.signer.unsign_object_at(encoded, None, 0.0)? {
            Value::Object(map) => Ok(map),
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
