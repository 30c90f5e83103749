//! Django's cookie signer and `set_signed_cookie`/`get_signed_cookie` values.

use super::{Signer, SigningError, TimestampSigner};

const COOKIE_KEY_PREFIX: &[u8] = b"django.http.cookies";

/// `signing.get_cookie_signer(salt)`: a [`TimestampSigner`] keyed with
/// `b"django.http.cookies" + SECRET_KEY`, with the fallback keys prefixed the same way.
/// The messages cookie uses it with the salt `django.contrib.messages`.
pub fn get_cookie_signer<K: AsRef<[u8]>>(
    salt: &str,
    secret_key: impl AsRef<[u8]>,
    fallback_keys: &[K],
) -> TimestampSigner {
    let prefixed = |k: &[u8]| [COOKIE_KEY_PREFIX, k].concat();
    TimestampSigner::from_signer(
        Signer::new(prefixed(secret_key.as_ref()))
            .with_salt(salt)
            .with_fallback_keys(fallback_keys.iter().map(|k| prefixed(k.as_ref()))),
    )
}

/// Which salt `set_signed_cookie` derives from the cookie name and the caller's salt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieSaltScheme {
    /// Django 5.2.15+, 6.0.6+ and 6.1: `"django.http.cookies.v2:" + len(salt) + ":" + salt + name`.
    V2,
    /// Every earlier release: `name + salt`.
    Legacy,
}

impl CookieSaltScheme {
    fn signer_salt(self, name: &str, salt: &str) -> String {
        match self {
            // `len` counts code points, as Python's `len(str)` does.
            Self::V2 => format!(
                "django.http.cookies.v2:{}:{salt}{name}",
                salt.chars().count()
            ),
            Self::Legacy => format!("{name}{salt}"),
        }
    }
}

/// The value `response.set_signed_cookie(name, value, salt=salt)` puts in the cookie, signed
/// at the Unix time `timestamp`.
///
/// ```
/// use sesame_core::signing::{signed_cookie_value, CookieSaltScheme};
/// let v = signed_cookie_value("c", "hello", "s", "django_tests_secret_key", CookieSaltScheme::V2, 1_700_000_000);
/// assert_eq!(v, "hello:1r31eq:zGeURXfDUBw22JcIdEHurTkrEfV1ApPQq-j2hJZsQpY");
/// ```
pub fn signed_cookie_value(
    name: &str,
    value: &str,
    salt: &str,
    secret_key: impl AsRef<[u8]>,
    scheme: CookieSaltScheme,
    timestamp: i64,
) -> String {
    get_cookie_signer::<&[u8]>(&scheme.signer_salt(name, salt), secret_key, &[])
        .sign_at(value, timestamp)
}

/// `request.get_signed_cookie(name, salt=salt, max_age=max_age)` for the raw cookie value.
///
/// The current (v2) salt is tried first; on a bad signature that is not an expiry, the legacy
/// salt is tried when `legacy_fallback` is set (`SIGNED_COOKIE_LEGACY_SALT_FALLBACK`, on by
/// default in Django).
#[allow(clippy::too_many_arguments)]
pub fn get_signed_cookie<K: AsRef<[u8]>>(
    name: &str,
    cookie_value: &str,
    salt: &str,
    secret_key: impl AsRef<[u8]>,
    fallback_keys: &[K],
    max_age: Option<f64>,
    legacy_fallback: bool,
    now: f64,
) -> Result<String, SigningError> {
    let secret_key = secret_key.as_ref();
    let attempt = |scheme: CookieSaltScheme| {
        get_cookie_signer(&scheme.signer_salt(name, salt), secret_key, fallback_keys)
            .unsign_at(cookie_value, max_age, now)
            .map(str::to_owned)
    };
    match attempt(CookieSaltScheme::V2) {
        Err(e) if legacy_fallback && !matches!(e, SigningError::Expired { .. }) => {
            attempt(CookieSaltScheme::Legacy)
        }
        other => other,
    }
}
