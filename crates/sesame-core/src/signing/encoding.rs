//! The text encodings of `django.core.signing`: unpadded URL-safe base64 and base62.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `b64_encode`: URL-safe base64 with the trailing `=` removed.
///
/// ```
/// assert_eq!(sesame_core::signing::b64_encode(b"\xfb\xff"), "-_8");
/// ```
pub fn b64_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `b64_decode`: the inverse of [`b64_encode`]. Django never emits padding, so padding is
/// refused; `None` on anything that is not valid URL-safe base64.
pub fn b64_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `b62_encode`: digits, then upper case, then lower case; a leading `-` for negatives.
///
/// ```
/// assert_eq!(sesame_core::signing::b62_encode(1_700_000_000), "1r31eq");
/// ```
pub fn b62_encode(n: i64) -> String {
    if n == 0 {
        return "0".to_owned();
    }
    let negative = n < 0;
    let mut v = n.unsigned_abs();
    let mut digits = Vec::new();
    while v > 0 {
        digits.push(BASE62[(v % 62) as usize]);
        v /= 62;
    }
    if negative {
        digits.push(b'-');
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

/// `b62_decode`; `None` on an empty string, a character outside the alphabet, or overflow.
pub fn b62_decode(s: &str) -> Option<i64> {
    let (negative, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for b in body.bytes() {
        let d = BASE62.iter().position(|&c| c == b)? as i64;
        v = v.checked_mul(62)?.checked_add(d)?;
    }
    Some(if negative { -v } else { v })
}

/// Base 36 with lower-case letters, as `django.utils.http.int_to_base36` writes it.
pub fn b36_encode(mut n: u64) -> String {
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    if n == 0 {
        return "0".to_owned();
    }
    let mut digits = Vec::new();
    while n > 0 {
        digits.push(ALPHABET[(n % 36) as usize]);
        n /= 36;
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

/// `base36_to_int`: at most 13 characters, case-insensitive, as Django accepts.
pub fn b36_decode(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 13 {
        return None;
    }
    u64::from_str_radix(s, 36).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base62_examples() {
        for (n, s) in [
            (0, "0"),
            (61, "z"),
            (62, "10"),
            (123_456_789, "8M0kX"),
            (1_700_000_000, "1r31eq"),
            (-5, "-5"),
        ] {
            assert_eq!(b62_encode(n), s);
            assert_eq!(b62_decode(s), Some(n));
        }
        assert_eq!(b62_decode(""), None);
        assert_eq!(b62_decode("-"), None);
        assert_eq!(b62_decode("a!"), None);
        assert_eq!(b62_decode("zzzzzzzzzzzzzzzzzzzzzz"), None);
        assert_eq!(b62_encode(i64::MIN).len(), 12);
    }

    #[test]
    fn base36() {
        assert_eq!(b36_encode(770_472_000), "cqpw00");
        assert_eq!(b36_decode("cqpw00"), Some(770_472_000));
        assert_eq!(b36_decode("zzzzzzzzzzzzzz"), None);
    }
}
