//! Session keys: 32 characters of `[a-z0-9]` from a CSPRNG, and their validation.

use crate::crypto::get_random_string;

/// Django's `VALID_KEY_CHARS`: lower-case letters and digits, safe on case-insensitive file
/// systems and in every store.
pub const VALID_KEY_CHARS: &str = "abcdefghijklmnopqrstuvwxyz0123456789";

/// The length of a new key (≈165 bits of entropy).
pub const SESSION_KEY_LENGTH: usize = 32;

/// The longest key a store accepts: Django's `session_key` column is `varchar(40)`.
pub const MAX_SESSION_KEY_LENGTH: usize = 40;

/// A fresh session key.
///
/// ```
/// let k = sesame_core::session::new_session_key();
/// assert!(sesame_core::session::is_valid_session_key(&k));
/// ```
pub fn new_session_key() -> String {
    get_random_string(SESSION_KEY_LENGTH, VALID_KEY_CHARS)
}

/// Whether a key from a cookie may be looked up in a server-side store.
///
/// Django requires at least 8 characters; its file backend also limits the alphabet. Sesame
/// applies both rules to every server-side store, plus the 40-character column limit, so a
/// cookie can never smuggle odd bytes into a store query. Every key Django issues passes.
pub fn is_valid_session_key(key: &str) -> bool {
    (8..=MAX_SESSION_KEY_LENGTH).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        let a = new_session_key();
        assert_eq!(a.len(), 32);
        assert_ne!(a, new_session_key());
        assert!(is_valid_session_key("abcdefgh"));
        assert!(!is_valid_session_key("abcdefg"));
        assert!(!is_valid_session_key("ABCDEFGH"));
        assert!(!is_valid_session_key(&"a".repeat(41)));
        assert!(!is_valid_session_key("abcdefgh\0"));
        assert!(!is_valid_session_key("abcdéfgh"));
    }
}
