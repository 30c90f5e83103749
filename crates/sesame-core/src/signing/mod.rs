//! `django.core.signing`: [`Signer`], [`TimestampSigner`], [`dumps`] and [`loads`].
//!
//! The layout of a signed object is
//! `[.]base64(json | zlib(json)) ":" base62(unix_ts) ":" base64(HMAC)`, where the HMAC key is
//! `H(salt || "signer" || secret)` and the MAC covers everything before the last `:`.
//!
//! ```
//! use sesame_core::signing::{Signer, TimestampSigner};
//!
//! let signer = Signer::new("predictable-secret");
//! let signed = signer.sign("foo");
//! assert_eq!(signed, "foo:jZQoX_FtSO70jX9HLRGg2A_2s4kdDBxz1QoO_OpEQb0");
//! assert_eq!(signer.unsign(&signed).unwrap(), "foo");
//!
//! let ts = TimestampSigner::new("predictable-key");
//! let signed = ts.sign_at("hello", 123_456_789);
//! assert_eq!(signed, "hello:8M0kX:0pJB1_TN9Bno2aK29thnZKKHn76ngzcQVnIrp_DNs5M");
//! assert!(ts.unsign_at(&signed, Some(11.0), 123_456_800.0).is_ok());
//! assert!(ts.unsign_at(&signed, Some(10.0), 123_456_800.0).is_err());
//! ```

mod cookies;
mod encoding;

pub use cookies::{CookieSaltScheme, get_cookie_signer, get_signed_cookie, signed_cookie_value};
pub use encoding::{b36_decode, b36_encode, b62_decode, b62_encode, b64_decode, b64_encode};

use crate::crypto::{Algorithm, constant_time_compare, salted_hmac};
use crate::pyjson;
use flate2::write::ZlibEncoder;
use flate2::{Compression, Decompress, FlushDecompress, Status};
use serde_json::Value;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Decompressed payloads larger than this are refused. Django sets no limit (the signature is
/// checked first, so only a holder of the key can send a zlib bomb); this bound keeps a leaked
/// key from becoming a memory exhaustion as well.
pub const MAX_DECOMPRESSED_BYTES: u64 = 64 * 1024 * 1024;

/// Why a signed value was refused. Every variant except [`SigningError::Payload`] is a
/// `BadSignature` in Django's terms.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SigningError {
    /// The value holds no separator (`No ":" found in value`).
    #[error("no separator found in the signed value")]
    NoSeparator,
    /// The signature matches neither the key nor any fallback key.
    #[error("signature does not match")]
    BadSignature,
    /// The timestamp is not base62.
    #[error("the signed timestamp is malformed")]
    BadTimestamp,
    /// `SignatureExpired`: the signature is valid but older than `max_age`.
    #[error("signature age {age} > {max_age} seconds")]
    Expired {
        /// Seconds since signing.
        age: f64,
        /// The limit that was exceeded.
        max_age: f64,
    },
    /// A separator that could be confused with the signature.
    #[error("unsafe signer separator {0:?}: it must not be empty or only [A-z0-9-_=]")]
    InvalidSeparator(String),
    /// The signature is valid but the payload is not base64, zlib or JSON.
    #[error("the signed payload is malformed: {0}")]
    Payload(String),
}

impl SigningError {
    /// Whether Django would raise `BadSignature` (or its subclass `SignatureExpired`).
    pub fn is_bad_signature(&self) -> bool {
        !matches!(self, Self::Payload(_) | Self::InvalidSeparator(_))
    }
}

/// The current Unix time in seconds, as a float (`time.time()`).
pub fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `django.core.signing.Signer`: appends an HMAC of the value to the value.
///
/// Use it for values that must come back unchanged but need not be secret or expire (the
/// value itself is readable by anyone); use [`TimestampSigner`] or [`dumps`] when the value
/// should age out. The salt namespaces signatures, so that a value signed for one purpose is
/// never accepted for another: give every use its own salt. Fallback keys let a rotated
/// `SECRET_KEY` keep verifying what the old key signed.
///
/// ```
/// use sesame_core::signing::{Signer, SigningError};
///
/// let old = Signer::new("old-secret").with_salt("newsletter.unsubscribe");
/// let token = old.sign("alice@example.com");
///
/// // After rotating the key, the old one is a fallback: old values still verify.
/// let signer = Signer::new("new-secret")
///     .with_salt("newsletter.unsubscribe")
///     .with_fallback_keys(["old-secret"]);
/// assert_eq!(signer.unsign(&token), Ok("alice@example.com"));
///
/// // Another salt, or a tampered value, is a bad signature.
/// let other = Signer::new("new-secret").with_salt("password.reset");
/// assert_eq!(other.unsign(&token), Err(SigningError::BadSignature));
/// let forged = token.replace("alice", "mallory");
/// assert_eq!(signer.unsign(&forged), Err(SigningError::BadSignature));
/// ```
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
    fallback_keys: Vec<Vec<u8>>,
    salt: Option<String>,
    default_salt: &'static str,
    algorithm: Algorithm,
    legacy_algorithms: Vec<Algorithm>,
    sep: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The keys sign every cookie and token: their count is shown, never their bytes.
        f.debug_struct("Signer")
            .field("key", &"..")
            .field("fallback_keys", &self.fallback_keys.len())
            .field("salt", &self.salt.as_deref().unwrap_or(self.default_salt))
            .field("algorithm", &self.algorithm)
            .field("legacy_algorithms", &self.legacy_algorithms)
            .field("sep", &self.sep)
            .finish()
    }
}

impl Signer {
    /// A signer with Django's defaults: salt `django.core.signing.Signer`, sha256, `:`.
    pub fn new(key: impl AsRef<[u8]>) -> Self {
        Self {
            key: key.as_ref().to_vec(),
            fallback_keys: Vec::new(),
            salt: None,
            default_salt: "django.core.signing.Signer",
            algorithm: Algorithm::Sha256,
            legacy_algorithms: Vec::new(),
            sep: ":".to_owned(),
        }
    }

    /// Set the salt (the namespace of the signature). An empty salt means the class default,
    /// as in Django (`salt or "<module>.<ClassName>"`).
    pub fn with_salt(mut self, salt: impl Into<String>) -> Self {
        self.salt = Some(salt.into()).filter(|s| !s.is_empty());
        self
    }

    /// Set the MAC's hash algorithm (sha256 by default).
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Keys that still verify but are never used to sign (`SECRET_KEY_FALLBACKS`).
    pub fn with_fallback_keys<K: AsRef<[u8]>>(mut self, keys: impl IntoIterator<Item = K>) -> Self {
        self.fallback_keys = keys.into_iter().map(|k| k.as_ref().to_vec()).collect();
        self
    }

    /// Also accept signatures made with these algorithms, as Django 3.1 and 3.2 accepted sha1
    /// beside sha256. Off by default, as in Django 4.0 and later.
    pub fn with_legacy_algorithms(
        mut self,
        algorithms: impl IntoIterator<Item = Algorithm>,
    ) -> Self {
        self.legacy_algorithms = algorithms.into_iter().collect();
        self
    }

    /// Set the separator. Like Django, this refuses an empty separator or one made only of
    /// `[A-z0-9-_=]`, which would be ambiguous with the base64 signature.
    pub fn with_sep(mut self, sep: impl Into<String>) -> Result<Self, SigningError> {
        let sep = sep.into();
        let ambiguous = sep
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=[\\]^`".contains(c));
        if ambiguous {
            return Err(SigningError::InvalidSeparator(sep));
        }
        self.sep = sep;
        Ok(self)
    }

    /// The salt in use.
    pub fn salt(&self) -> &str {
        self.salt.as_deref().unwrap_or(self.default_salt)
    }

    fn signature_with(&self, value: &str, key: &[u8], algorithm: Algorithm) -> String {
        let key_salt = format!("{}signer", self.salt());
        b64_encode(&salted_hmac(key_salt, value, key, algorithm))
    }

    /// The base64 signature of `value` under the current key.
    pub fn signature(&self, value: &str) -> String {
        self.signature_with(value, &self.key, self.algorithm)
    }

    /// `value + sep + signature(value)`.
    pub fn sign(&self, value: &str) -> String {
        format!("{value}{}{}", self.sep, self.signature(value))
    }

    /// Verify and strip the signature, trying the key and then each fallback key.
    ///
    /// # Errors
    ///
    /// [`SigningError::NoSeparator`] when `signed` holds no separator, and
    /// [`SigningError::BadSignature`] when no key (under no allowed algorithm) produced the
    /// signature. The comparison takes constant time.
    pub fn unsign<'a>(&self, signed: &'a str) -> Result<&'a str, SigningError> {
        let (value, sig) = signed
            .rsplit_once(&self.sep)
            .ok_or(SigningError::NoSeparator)?;
        let algorithms =
            std::iter::once(self.algorithm).chain(self.legacy_algorithms.iter().copied());
        for algorithm in algorithms {
            for key in std::iter::once(&self.key).chain(&self.fallback_keys) {
                if constant_time_compare(sig, self.signature_with(value, key, algorithm)) {
                    return Ok(value);
                }
            }
        }
        Err(SigningError::BadSignature)
    }

    /// `sign_object`: serialise `obj` to Python-exact JSON, compress it when that saves at
    /// least two bytes (and `compress` is set), base64 it and sign it.
    pub fn sign_object(&self, obj: &Value, compress: bool) -> String {
        self.sign(&encode_payload(obj, compress))
    }

    /// `unsign_object`: verify, then decode the payload.
    ///
    /// ```
    /// use serde_json::json;
    /// use sesame_core::signing::Signer;
    ///
    /// let signer = Signer::new("secret").with_salt("cart");
    /// let signed = signer.sign_object(&json!({"items": [1, 2, 3]}), true);
    /// assert_eq!(signer.unsign_object(&signed).unwrap(), json!({"items": [1, 2, 3]}));
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Signer::unsign`]; then [`SigningError::Payload`] when the signed text is not
    /// base64, zlib (beyond [`MAX_DECOMPRESSED_BYTES`]) or JSON, which only a holder of the
    /// key can produce.
    pub fn unsign_object(&self, signed: &str) -> Result<Value, SigningError> {
        decode_payload(self.unsign(signed)?)
    }
}

/// Serialise, optionally compress, and base64 an object: the text that gets signed.
pub fn encode_payload(obj: &Value, compress: bool) -> String {
    let data = pyjson::dumps_compact(obj).into_bytes();
    if compress {
        if let Some(compressed) = zlib_compress(&data) {
            if compressed.len() < data.len().saturating_sub(1) {
                return format!(".{}", b64_encode(&compressed));
            }
        }
    }
    b64_encode(&data)
}

/// Undo [`encode_payload`].
pub fn decode_payload(text: &str) -> Result<Value, SigningError> {
    decode_payload_sized(text).map(|(value, _)| value)
}

/// [`decode_payload`], with the length of the JSON it read.
pub(crate) fn decode_payload_sized(text: &str) -> Result<(Value, usize), SigningError> {
    let (compressed, b64) = match text.strip_prefix('.') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let raw = b64_decode(b64).ok_or_else(|| SigningError::Payload("invalid base64".into()))?;
    let data = if compressed {
        zlib_decompress(&raw)?
    } else {
        raw
    };
    let value = pyjson::loads_latin1(&data)
        .map_err(|e| SigningError::Payload(format!("invalid JSON: {e}")))?;
    Ok((value, data.len()))
}

/// `zlib.decompress(raw)`: the first zlib stream, anything after it ignored, as Python does;
/// at most [`MAX_DECOMPRESSED_BYTES`].
fn zlib_decompress(raw: &[u8]) -> Result<Vec<u8>, SigningError> {
    thread_local! {
        // zlib allocates about 40 KB of state and window for every new stream, more than the
        // rest of decoding a session costs; one reset state per thread is reused instead.
        static INFLATE: std::cell::RefCell<Decompress> = std::cell::RefCell::new(Decompress::new(true));
    }
    let invalid = |what: &str| SigningError::Payload(format!("invalid zlib data: {what}"));
    let too_large = || SigningError::Payload("decompressed payload too large".into());
    INFLATE.with(|cell| {
        let mut fresh;
        let mut borrowed = cell.try_borrow_mut();
        let d: &mut Decompress = match borrowed.as_mut() {
            Ok(d) => d,
            Err(_) => {
                fresh = Decompress::new(true);
                &mut fresh
            }
        };
        d.reset(true);
        let mut out = Vec::with_capacity(raw.len().saturating_mul(4).clamp(256, 1 << 20));
        loop {
            if out.len() == out.capacity() {
                if out.len() as u64 > MAX_DECOMPRESSED_BYTES {
                    return Err(too_large());
                }
                // Never more than one byte past the limit, so that it is caught below.
                let room = (MAX_DECOMPRESSED_BYTES as usize + 1).saturating_sub(out.len());
                out.reserve_exact(out.capacity().min(room).max(1));
            }
            let (read, written) = (d.total_in(), d.total_out());
            let input = usize::try_from(read)
                .ok()
                .and_then(|at| raw.get(at..))
                .unwrap_or_default();
            match d.decompress_vec(input, &mut out, FlushDecompress::Finish) {
                Ok(Status::StreamEnd) => break,
                Ok(_) => {
                    let stalled = d.total_in() == read && d.total_out() == written;
                    if stalled && out.len() < out.capacity() {
                        return Err(invalid("truncated stream"));
                    }
                }
                Err(e) => return Err(invalid(&e.to_string())),
            }
        }
        if out.len() as u64 > MAX_DECOMPRESSED_BYTES {
            return Err(too_large());
        }
        Ok(out)
    })
}

// Level 6 with the system zlib: the same bytes Python's `zlib.compress` writes.
fn zlib_compress(data: &[u8]) -> Option<Vec<u8>> {
    let mut enc = ZlibEncoder::new(Vec::new(), Compression::new(6));
    enc.write_all(data).ok()?;
    enc.finish().ok()
}

/// `django.core.signing.TimestampSigner`: signs `value:base62(ts)`.
///
/// A [`Signer`] that also records when it signed, so that the reader can refuse values older
/// than a `max_age`: e-mail confirmation links, "remember me" values, anything that should
/// stop working after a while. The timestamp is signed with the value, so it cannot be
/// refreshed without the key.
///
/// ```
/// use sesame_core::signing::{SigningError, TimestampSigner};
///
/// let signer = TimestampSigner::new("secret");
/// let link = signer.sign_at("confirm:42", 1_700_000_000);
/// // An hour later, with a day's validity: accepted.
/// assert_eq!(signer.unsign_at(&link, Some(86_400.0), 1_700_003_600.0), Ok("confirm:42"));
/// // Two days later: expired, although the signature itself is fine.
/// let late = signer.unsign_at(&link, Some(86_400.0), 1_700_172_800.0);
/// assert!(matches!(late, Err(SigningError::Expired { .. })));
/// // The value and the time it was signed, without an age check:
/// assert_eq!(signer.unsign_timestamp(&link), Ok(("confirm:42", 1_700_000_000)));
/// ```
#[derive(Debug, Clone)]
pub struct TimestampSigner {
    signer: Signer,
}

impl TimestampSigner {
    /// Django's defaults, with the salt `django.core.signing.TimestampSigner`.
    pub fn new(key: impl AsRef<[u8]>) -> Self {
        Self::from_signer(Signer::new(key))
    }

    /// Wrap a configured [`Signer`]; without a salt it gets the TimestampSigner default.
    pub fn from_signer(mut signer: Signer) -> Self {
        signer.default_salt = "django.core.signing.TimestampSigner";
        Self { signer }
    }

    /// The underlying signer.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// Sign with the current time.
    pub fn sign(&self, value: &str) -> String {
        self.sign_at(value, now_unix() as i64)
    }

    /// Sign with the given Unix timestamp.
    pub fn sign_at(&self, value: &str, timestamp: i64) -> String {
        self.signer.sign(&format!(
            "{value}{}{}",
            self.signer.sep,
            b62_encode(timestamp)
        ))
    }

    /// Verify against the current time; `max_age` in seconds.
    pub fn unsign<'a>(
        &self,
        signed: &'a str,
        max_age: Option<f64>,
    ) -> Result<&'a str, SigningError> {
        self.unsign_at(signed, max_age, now_unix())
    }

    /// Verify as if the time were `now`. The signature is checked before anything else; an
    /// age equal to `max_age` still passes, and future timestamps are not refused (Django).
    ///
    /// # Errors
    ///
    /// As [`Signer::unsign`]; [`SigningError::BadTimestamp`] when the signed text holds no
    /// base62 timestamp, and [`SigningError::Expired`] when it is older than `max_age`.
    pub fn unsign_at<'a>(
        &self,
        signed: &'a str,
        max_age: Option<f64>,
        now: f64,
    ) -> Result<&'a str, SigningError> {
        let (value, ts) = self.unsign_timestamp(signed)?;
        if let Some(max_age) = max_age {
            let age = now - ts as f64;
            if age > max_age {
                return Err(SigningError::Expired { age, max_age });
            }
        }
        Ok(value)
    }

    /// Verify and return the value with its timestamp, without an age check.
    pub fn unsign_timestamp<'a>(&self, signed: &'a str) -> Result<(&'a str, i64), SigningError> {
        let result = self.signer.unsign(signed)?;
        let (value, ts) = result
            .rsplit_once(&self.signer.sep)
            .ok_or(SigningError::BadTimestamp)?;
        let ts = b62_decode(ts).ok_or(SigningError::BadTimestamp)?;
        Ok((value, ts))
    }

    /// `sign_object` with the current time.
    pub fn sign_object(&self, obj: &Value, compress: bool) -> String {
        self.sign(&encode_payload(obj, compress))
    }

    /// `sign_object` at a given Unix time.
    pub fn sign_object_at(&self, obj: &Value, compress: bool, timestamp: i64) -> String {
        self.sign_at(&encode_payload(obj, compress), timestamp)
    }

    /// `unsign_object` against the current time.
    pub fn unsign_object(&self, signed: &str, max_age: Option<f64>) -> Result<Value, SigningError> {
        self.unsign_object_at(signed, max_age, now_unix())
    }

    /// `unsign_object` as if the time were `now`.
    pub fn unsign_object_at(
        &self,
        signed: &str,
        max_age: Option<f64>,
        now: f64,
    ) -> Result<Value, SigningError> {
        decode_payload(self.unsign_at(signed, max_age, now)?)
    }
}

/// `signing.dumps(obj, key, salt, compress=...)` at the current time.
///
/// Serialises `obj` as Python's `json.dumps` would (so that Django reads it back identically),
/// optionally zlib-compresses it (only when that saves space; the result then starts with
/// `.`), and signs it with a [`TimestampSigner`] under `salt`. The result is URL-safe and can
/// be read by Django's `signing.loads` with the same key and salt. The payload is encoded, not
/// encrypted: do not put secrets in it.
///
/// ```
/// use serde_json::json;
/// let s = sesame_core::signing::dumps(&json!("x"), "key", "django.core.signing", false);
/// assert_eq!(sesame_core::signing::loads(&s, "key", &[] as &[&str], "django.core.signing", None).unwrap(), json!("x"));
/// ```
pub fn dumps(obj: &Value, key: impl AsRef<[u8]>, salt: &str, compress: bool) -> String {
    TimestampSigner::from_signer(Signer::new(key).with_salt(salt)).sign_object(obj, compress)
}

/// `signing.loads(s, key, salt, max_age, fallback_keys)` at the current time.
///
/// Reads what [`dumps`] (or Django's `signing.dumps`) wrote, trying `key` and then each
/// fallback key; `max_age` is in seconds, `None` for no age limit.
///
/// ```
/// use serde_json::json;
/// use sesame_core::signing::{SigningError, dumps, loads};
///
/// let salt = "myapp.invitations";
/// let signed = dumps(&json!({"team": 7}), "old-key", salt, true);
/// // Read with a new key, the old one as a fallback, valid for a week.
/// let value = loads(&signed, "new-key", &["old-key"], salt, Some(7.0 * 86_400.0)).unwrap();
/// assert_eq!(value, json!({"team": 7}));
/// // The wrong salt is a bad signature.
/// let err = loads(&signed, "old-key", &[] as &[&str], "other", None).unwrap_err();
/// assert!(err.is_bad_signature());
/// assert_eq!(err, SigningError::BadSignature);
/// ```
///
/// # Errors
///
/// A [`SigningError`]: a bad or missing signature, an expired timestamp
/// ([`SigningError::Expired`]) or, behind a valid signature, a payload that does not decode
/// ([`SigningError::Payload`]). [`SigningError::is_bad_signature`] tells which Django
/// exception it would be.
pub fn loads<K: AsRef<[u8]>>(
    signed: &str,
    key: impl AsRef<[u8]>,
    fallback_keys: &[K],
    salt: &str,
    max_age: Option<f64>,
) -> Result<Value, SigningError> {
    TimestampSigner::from_signer(
        Signer::new(key)
            .with_salt(salt)
            .with_fallback_keys(fallback_keys),
    )
    .unsign_object(signed, max_age)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn zlib_decompress_like_python() {
        let text = "abc".repeat(50_000);
        let packed = zlib_compress(text.as_bytes()).unwrap();
        // Grows its buffer many times over (150,000 bytes from a few hundred), twice in a row
        // on the same reused state.
        for _ in 0..2 {
            assert_eq!(zlib_decompress(&packed).unwrap(), text.as_bytes());
        }
        // Python's zlib.decompress ignores what follows the stream.
        let mut trailing = packed.clone();
        trailing.extend_from_slice(b"garbage");
        assert_eq!(zlib_decompress(&trailing).unwrap(), text.as_bytes());
        // Truncated and corrupt streams are errors, and the state is still usable after them.
        assert!(zlib_decompress(&packed[..packed.len() / 2]).is_err());
        assert!(zlib_decompress(b"not zlib at all").is_err());
        assert!(zlib_decompress(b"").is_err());
        assert_eq!(
            zlib_decompress(&zlib_compress(b"{}").unwrap()).unwrap(),
            b"{}"
        );
    }

    #[test]
    fn dumps_vector() {
        let s = TimestampSigner::from_signer(
            Signer::new("django_tests_secret_key").with_salt("django.core.signing"),
        );
        assert_eq!(
            s.sign_object_at(&json!("hello"), false, 1_700_000_000),
            "ImhlbGxvIg:1r31eq:vORzXCNWal6clyL2AMUxddNiVs7GTgBsmwYhy6yGEas"
        );
    }

    #[test]
    fn fallback_and_legacy() {
        let old = Signer::new("old").sign("v");
        let new = Signer::new("new").with_fallback_keys(["old"]);
        assert_eq!(new.unsign(&old), Ok("v"));
        assert_eq!(
            Signer::new("new").unsign(&old),
            Err(SigningError::BadSignature)
        );
        let sha1 = Signer::new("k").with_algorithm(Algorithm::Sha1).sign("v");
        assert!(Signer::new("k").unsign(&sha1).is_err());
        assert_eq!(
            Signer::new("k")
                .with_legacy_algorithms([Algorithm::Sha1])
                .unsign(&sha1),
            Ok("v")
        );
    }

    #[test]
    fn malformed() {
        let s = Signer::new("k");
        assert_eq!(s.unsign("novalue"), Err(SigningError::NoSeparator));
        let t = TimestampSigner::new("k");
        let bad_ts = t.signer().sign("v:!!");
        assert_eq!(t.unsign(&bad_ts, None), Err(SigningError::BadTimestamp));
        let bad_payload = s.sign("!!!");
        assert!(matches!(
            s.unsign_object(&bad_payload),
            Err(SigningError::Payload(_))
        ));
    }

    #[test]
    fn separator_rules() {
        let slash = Signer::new("k").with_sep("/").unwrap();
        assert_eq!(
            slash.sign("foo"),
            format!("foo/{}", Signer::new("k").signature("foo"))
        );
        assert!(Signer::new("k").with_sep("abc").is_err());
        assert!(Signer::new("k").with_sep("").is_err());
    }
}
