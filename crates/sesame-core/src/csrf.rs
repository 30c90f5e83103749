//! The token algorithms of `django.middleware.csrf`: the 32-character secret, the masked
//! 64-character token, the mask, and a constant-time comparison. The middleware itself (cookie,
//! Origin and Referer checks) is the web layer's.
//!
//! ```
//! use sesame_core::csrf;
//! let secret = csrf::get_new_csrf_secret();
//! let token = csrf::mask_cipher_secret(&secret);
//! assert_eq!(token.len(), 64);
//! assert!(csrf::does_token_match(&token, &secret));
//! assert!(csrf::does_token_match(&secret, &secret));
//! assert_eq!(csrf::unmask_cipher_token("2JgchWvM1tpxT2lfz9aydoXW9yT1DN3NdLiejYxOOlzzV4nhBbYqmqZYbAV3V5Bf"),
//!            "lcccccccX2kcccccccY2jcccccccssIC");
//! ```

use crate::crypto::{constant_time_compare, get_random_string};

/// `CSRF_SECRET_LENGTH`.
pub const CSRF_SECRET_LENGTH: usize = 32;
/// `CSRF_TOKEN_LENGTH`.
pub const CSRF_TOKEN_LENGTH: usize = 64;
/// `CSRF_ALLOWED_CHARS`: lower case, upper case, digits (not base62's order).
pub const CSRF_ALLOWED_CHARS: &str =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// The session key used with `CSRF_USE_SESSIONS`.
pub const CSRF_SESSION_KEY: &str = "_csrftoken";

/// Why a submitted token or cookie was refused (Django's `InvalidTokenFormat` reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CsrfError {
    /// Not 32 or 64 characters.
    #[error("has incorrect length")]
    IncorrectLength,
    /// A character outside `CSRF_ALLOWED_CHARS`.
    #[error("has invalid characters")]
    InvalidCharacters,
}

fn index(c: u8) -> Option<usize> {
    CSRF_ALLOWED_CHARS.bytes().position(|a| a == c)
}

fn alphabet(i: usize) -> char {
    char::from(CSRF_ALLOWED_CHARS.as_bytes()[i % 62])
}

/// A new 32-character secret.
pub fn get_new_csrf_secret() -> String {
    get_random_string(CSRF_SECRET_LENGTH, CSRF_ALLOWED_CHARS)
}

/// Mask `secret` with a fresh random mask: `mask + cipher`, 64 characters.
///
/// Put the masked token in forms, never the secret: a new mask per response keeps the token
/// from being recovered by compression attacks on HTTPS (BREACH), while every mask of the
/// same secret still matches.
///
/// ```
/// use sesame_core::csrf::{does_token_match, get_new_csrf_secret, mask_cipher_secret};
/// let secret = get_new_csrf_secret();
/// let (a, b) = (mask_cipher_secret(&secret), mask_cipher_secret(&secret));
/// assert_ne!(a, b);
/// assert!(does_token_match(&a, &secret) && does_token_match(&b, &secret));
/// ```
pub fn mask_cipher_secret(secret: &str) -> String {
    mask_with(
        secret,
        &get_random_string(CSRF_SECRET_LENGTH, CSRF_ALLOWED_CHARS),
    )
}

/// Mask `secret` with a given 32-character mask (`cipher[i] = A[(idx(s) + idx(m)) mod 62]`).
/// Characters outside the alphabet count as index 0; callers validate first.
pub fn mask_with(secret: &str, mask: &str) -> String {
    let cipher: String = secret
        .bytes()
        .zip(mask.bytes())
        .map(|(s, m)| alphabet(index(s).unwrap_or(0) + index(m).unwrap_or(0)))
        .collect();
    format!("{mask}{cipher}")
}

/// Recover the secret from a 64-character masked token.
pub fn unmask_cipher_token(token: &str) -> String {
    // Bytes, not chars: a hostile token may be any UTF-8, and must not panic here.
    let bytes = token.as_bytes();
    let (mask, cipher) = bytes.split_at(bytes.len().min(CSRF_SECRET_LENGTH));
    cipher
        .iter()
        .zip(mask)
        .map(|(&c, &m)| (c, m))
        .map(|(c, m)| alphabet(index(c).unwrap_or(0) + 62 - index(m).unwrap_or(0)))
        .collect()
}

/// `_check_token_format`: 32 or 64 characters from the alphabet.
///
/// ```
/// use sesame_core::csrf::{CsrfError, check_token_format};
/// assert_eq!(check_token_format("too short"), Err(CsrfError::IncorrectLength));
/// assert_eq!(check_token_format(&"!".repeat(32)), Err(CsrfError::InvalidCharacters));
/// assert_eq!(check_token_format(&"a".repeat(64)), Ok(()));
/// ```
///
/// # Errors
///
/// The [`CsrfError`] Django reports as the reason of the 403 (`CSRF token ... has incorrect
/// length` or `... has invalid characters`).
pub fn check_token_format(token: &str) -> Result<(), CsrfError> {
    if token.len() != CSRF_SECRET_LENGTH && token.len() != CSRF_TOKEN_LENGTH {
        return Err(CsrfError::IncorrectLength);
    }
    if token.bytes().any(|b| index(b).is_none()) {
        return Err(CsrfError::InvalidCharacters);
    }
    Ok(())
}

/// The secret a `csrftoken` cookie holds: a 32-character secret as is, a pre-4.1
/// 64-character masked token unmasked.
///
/// # Errors
///
/// As [`check_token_format`]: the middleware then treats the cookie as absent and issues a
/// new secret.
pub fn secret_from_cookie(cookie: &str) -> Result<String, CsrfError> {
    check_token_format(cookie)?;
    Ok(if cookie.len() == CSRF_TOKEN_LENGTH {
        unmask_cipher_token(cookie)
    } else {
        cookie.to_owned()
    })
}

/// `_does_token_match`: unmask a 64-character token, then compare with the secret in
/// constant time. A malformed token never matches.
pub fn does_token_match(request_token: &str, secret: &str) -> bool {
    if check_token_format(request_token).is_err() {
        return false;
    }
    let candidate = if request_token.len() == CSRF_TOKEN_LENGTH {
        unmask_cipher_token(request_token)
    } else {
        request_token.to_owned()
    };
    constant_time_compare(candidate, secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn django_vectors() {
        let secret = "lcccccccX2kcccccccY2jcccccccssIC";
        for t in [
            "1bcdefghij2bcdefghij3bcdefghij4bcdefghij5bcdefghij6bcdefghijABCD",
            "2JgchWvM1tpxT2lfz9aydoXW9yT1DN3NdLiejYxOOlzzV4nhBbYqmqZYbAV3V5Bf",
        ] {
            assert_eq!(unmask_cipher_token(t), secret);
        }
        assert_eq!(
            mask_with(secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"),
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefLDEFGHIJvBUNOPQRSTGL3XYZ01cduvMH"
        );
        for t in [
            "vFioG3XOLyGyGsPRFyB9iYUs341ufzIEvFioG3XOLyGyGsPRFyB9iYUs341ufzIE".to_owned(),
            "a".repeat(64),
            "b".repeat(64),
        ] {
            assert_eq!(unmask_cipher_token(&t), "a".repeat(32));
        }
    }

    #[test]
    fn formats() {
        assert_eq!(check_token_format("short"), Err(CsrfError::IncorrectLength));
        assert_eq!(
            check_token_format(&"*".repeat(32)),
            Err(CsrfError::InvalidCharacters)
        );
        assert!(!does_token_match(&"é".repeat(16), &"a".repeat(32)));
        assert!(!does_token_match("", ""));
        assert_eq!(secret_from_cookie(&"a".repeat(64)).unwrap(), "a".repeat(32));
    }
}
