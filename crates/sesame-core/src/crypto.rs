//! Django's `django.utils.crypto`: `salted_hmac`, `constant_time_compare` and
//! `get_random_string`.

use hmac::{Mac, SimpleHmac};
use rand::Rng;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

/// The hash functions `salted_hmac` accepts, as named by Python's `hashlib`.
///
/// ```
/// use sesame_core::crypto::Algorithm;
/// assert_eq!(Algorithm::from_name("sha256"), Some(Algorithm::Sha256));
/// assert_eq!(Algorithm::Sha256.name(), "sha256");
/// assert_eq!(Algorithm::from_name("md5"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `sha1`: Django's default for bare `salted_hmac` calls, and the legacy signing algorithm.
    Sha1,
    /// `sha256`: what the signer, the session auth hash and reset tokens use.
    Sha256,
    /// `sha512`.
    Sha512,
    /// `blake2b` (64-byte digest).
    Blake2b,
}

impl Algorithm {
    /// Parse a `hashlib` name such as `"sha256"`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha1" => Some(Self::Sha1),
            "sha256" => Some(Self::Sha256),
            "sha512" => Some(Self::Sha512),
            "blake2b" => Some(Self::Blake2b),
            _ => None,
        }
    }

    /// The `hashlib` name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
            Self::Blake2b => "blake2b",
        }
    }
}

fn mac<D>(key_salt: &[u8], secret: &[u8], value: &[u8]) -> Vec<u8>
where
    D: Digest + hmac::digest::core_api::BlockSizeUser,
{
    // Django derives the HMAC key as a plain hash of salt || secret (not an HMAC),
    // with no separator, and always hashes it even when it is short.
    let mut hasher = D::new();
    hasher.update(key_salt);
    hasher.update(secret);
    let derived = hasher.finalize();
    // `SimpleHmac` because it works with every digest, blake2b included.
    let mut m = <SimpleHmac<D> as hmac::digest::KeyInit>::new_from_slice(&derived)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    m.update(value);
    m.finalize().into_bytes().to_vec()
}

/// `salted_hmac(key_salt, value, secret, algorithm=...)`: the raw MAC bytes.
///
/// ```
/// use sesame_core::crypto::{salted_hmac, Algorithm};
/// let mac = salted_hmac("salt", "value", "django_tests_secret_key", Algorithm::Sha1);
/// assert_eq!(hex::encode(mac), "b51a2e619c43b1ca4f91d15c57455521d71d61eb");
/// ```
pub fn salted_hmac(
    key_salt: impl AsRef<[u8]>,
    value: impl AsRef<[u8]>,
    secret: impl AsRef<[u8]>,
    algorithm: Algorithm,
) -> Vec<u8> {
    let (s, k, v) = (key_salt.as_ref(), secret.as_ref(), value.as_ref());
    match algorithm {
        Algorithm::Sha1 => mac::<Sha1>(s, k, v),
        Algorithm::Sha256 => mac::<Sha256>(s, k, v),
        Algorithm::Sha512 => mac::<Sha512>(s, k, v),
        Algorithm::Blake2b => mac::<blake2::Blake2b512>(s, k, v),
    }
}

/// `salted_hmac(...).hexdigest()`.
pub fn salted_hmac_hex(
    key_salt: impl AsRef<[u8]>,
    value: impl AsRef<[u8]>,
    secret: impl AsRef<[u8]>,
    algorithm: Algorithm,
) -> String {
    hex::encode(salted_hmac(key_salt, value, secret, algorithm))
}

/// `salted_hmac(key_salt, value, secret, algorithm="sha256")` with the key derived once, for
/// a MAC taken on every request under the same salt and secret (the session auth hash).
///
/// ```
/// use sesame_core::crypto::{Algorithm, SaltedHmacSha256, salted_hmac_hex};
/// let key = SaltedHmacSha256::new("salt", "secret");
/// let expected = salted_hmac_hex("salt", "value", "secret", Algorithm::Sha256);
/// assert_eq!(key.hex("value"), expected);
/// assert!(key.matches_hex("value", &expected));
/// assert!(!key.matches_hex("other", &expected));
/// ```
#[derive(Clone)]
pub struct SaltedHmacSha256 {
    keyed: hmac::Hmac<Sha256>,
}

impl std::fmt::Debug for SaltedHmacSha256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The keyed state is derived from the secret: never printed.
        f.debug_struct("SaltedHmacSha256").finish_non_exhaustive()
    }
}

impl SaltedHmacSha256 {
    /// Derive the key as Django does: `sha256(key_salt + secret)`.
    pub fn new(key_salt: impl AsRef<[u8]>, secret: impl AsRef<[u8]>) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(key_salt.as_ref());
        hasher.update(secret.as_ref());
        let derived = hasher.finalize();
        Self {
            keyed: <hmac::Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(&derived)
                .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length")),
        }
    }

    /// The MAC of `value`.
    pub fn mac(&self, value: impl AsRef<[u8]>) -> [u8; 32] {
        let mut m = self.keyed.clone();
        m.update(value.as_ref());
        m.finalize().into_bytes().into()
    }

    /// The MAC of `value` in lower-case hex (`hexdigest()`).
    pub fn hex(&self, value: impl AsRef<[u8]>) -> String {
        let mut out = [0u8; 64];
        hex_into(&self.mac(value), &mut out);
        out.iter().map(|&b| char::from(b)).collect()
    }

    /// Whether `expected` is the hex MAC of `value`, compared in constant time.
    pub fn matches_hex(&self, value: impl AsRef<[u8]>, expected: &str) -> bool {
        let mut out = [0u8; 64];
        hex_into(&self.mac(value), &mut out);
        constant_time_compare(out, expected)
    }
}

/// Lower-case hex of `bytes` into `out` (twice as long), without a `String` per digit.
fn hex_into(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0x0f)];
    }
}

/// Compare two byte strings in time that depends only on their lengths
/// (`secrets.compare_digest`).
///
/// Use it for every comparison of a secret with what a client sent (signatures, tokens,
/// hashes): `==` stops at the first differing byte, and the time it takes tells an attacker
/// how much of a guess was right.
///
/// ```
/// use sesame_core::crypto::constant_time_compare;
/// assert!(constant_time_compare("abc", "abc"));
/// assert!(!constant_time_compare("abc", "abd"));
/// assert!(!constant_time_compare("abc", "abcd"));
/// ```
pub fn constant_time_compare(a: impl AsRef<[u8]>, b: impl AsRef<[u8]>) -> bool {
    let (a, b) = (a.as_ref(), b.as_ref());
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Django's `RANDOM_STRING_CHARS`: `a-z`, `A-Z`, `0-9`.
pub const RANDOM_STRING_CHARS: &str =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// `get_random_string(length, allowed_chars)`: each character drawn independently and
/// uniformly from `allowed_chars` by a cryptographically secure generator (the thread-local
/// ChaCha generator, seeded from the operating system). An empty `allowed_chars` gives an
/// empty string.
///
/// ```
/// use sesame_core::crypto::{RANDOM_STRING_CHARS, get_random_string};
/// let key = get_random_string(32, RANDOM_STRING_CHARS);
/// assert_eq!(key.len(), 32);
/// assert!(key.chars().all(|c| c.is_ascii_alphanumeric()));
/// assert_eq!(get_random_string(4, "x"), "xxxx");
/// ```
pub fn get_random_string(length: usize, allowed_chars: &str) -> String {
    let chars: Vec<char> = allowed_chars.chars().collect();
    if chars.is_empty() {
        return String::new();
    }
    let mut rng = rand::rng();
    (0..length)
        .map(|_| chars[rng.random_range(0..chars.len())])
        .collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn salted_hmac_sha256_with_the_key_derived_once() {
        // Django 5.2: salted_hmac(salt, value, secret, algorithm="sha256").hexdigest()
        let key = SaltedHmacSha256::new(
            "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash",
            "django_tests_secret_key",
        );
        for value in ["", "pbkdf2_sha256$1000000$salt$hash", &"x".repeat(300)] {
            let slow = salted_hmac_hex(
                "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash",
                value,
                "django_tests_secret_key",
                Algorithm::Sha256,
            );
            assert_eq!(key.hex(value), slow);
            assert!(key.matches_hex(value, &slow));
            assert!(!key.matches_hex(value, &slow.to_uppercase()));
            assert!(!key.matches_hex(value, &slow[..63]));
            assert!(!key.matches_hex(value, ""));
        }
        assert!(format!("{key:?}").contains("SaltedHmacSha256"));
    }
    use super::*;

    #[test]
    fn compare() {
        assert!(constant_time_compare("abc", "abc"));
        assert!(!constant_time_compare("abc", "abd"));
        assert!(!constant_time_compare("abc", "ab"));
    }

    #[test]
    fn random_string_uses_alphabet() {
        let s = get_random_string(200, "ab");
        assert_eq!(s.len(), 200);
        assert!(s.chars().all(|c| c == 'a' || c == 'b'));
        assert!(s.contains('a') && s.contains('b'));
    }
}
