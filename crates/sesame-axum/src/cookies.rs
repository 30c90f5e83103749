//! Cookies the way Django reads and writes them.
//!
//! Written by hand because Django's rules differ from the `cookie` crate's in ways that
//! matter for sharing a site: when a name repeats in the `Cookie` header the *last* value
//! wins, and `Set-Cookie` attributes come in Python `Morsel` order with Django's quoting.

use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// Largest `Cookie` header read; anything longer is ignored as a whole (browsers send at
/// most about 4 KB per cookie and a few dozen cookies).
pub const MAX_COOKIE_HEADER: usize = 16 * 1024;

/// `django.http.cookie.parse_cookie`: split on `;`, split each chunk at its first `=`, strip
/// and unquote; the last occurrence of a name wins.
pub fn parse_cookie(header: &str) -> Vec<(String, String)> {
    let chunks: Vec<(&str, &str)> = header
        .split(';')
        .map(|chunk| match chunk.split_once('=') {
            Some((n, v)) => (n.trim(), v.trim()),
            None => ("", chunk.trim()),
        })
        .filter(|(name, value)| !name.is_empty() || !value.is_empty())
        .collect();
    // Where each name occurs last. Each pair is kept at its name's last occurrence, which is
    // Django's order (a dict assigned in turn); linear in the header, where removing earlier
    // pairs as each name repeats was quadratic (a 16 KB header of distinct names cost about
    // 100 ms).
    let mut last: HashMap<&str, usize> = HashMap::with_capacity(chunks.len());
    for (i, (name, _)) in chunks.iter().enumerate() {
        last.insert(name, i);
    }
    chunks
        .iter()
        .enumerate()
        .filter(|(i, (name, _))| last.get(name) == Some(i))
        .map(|(_, (name, value))| ((*name).to_owned(), unquote(value)))
        .collect()
}

/// The value of one cookie, by Django's rules.
pub fn get_cookie(header: &str, name: &str) -> Option<String> {
    parse_cookie(header)
        .into_iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

/// Python's `http.cookies._unquote`: strip surrounding quotes, then undo `\ooo` and `\c`.
fn unquote(v: &str) -> String {
    let Some(inner) = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return v.to_owned();
    };
    let bytes = inner.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 1 < bytes.len() {
            let oct = &bytes[i + 1..bytes.len().min(i + 4)];
            // Python's pattern is `\\[0-3][0-7][0-7]`: three octal digits up to `\377`, one
            // byte. `\4xx` and above are not escapes (and would overflow a byte).
            if let [a @ b'0'..=b'3', b @ b'0'..=b'7', c @ b'0'..=b'7'] = *oct {
                out.push((a - b'0') * 64 + (b - b'0') * 8 + (c - b'0'));
                i += 4;
                continue;
            }
            out.push(bytes[i + 1]);
            i += 2;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `django.utils.http.http_date`: `Wdy, DD Mon YYYY HH:MM:SS GMT`.
pub fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// The attributes of a `Set-Cookie` header, as Django's `set_cookie` takes them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CookieAttributes {
    /// `Domain`.
    pub domain: Option<String>,
    /// `Path`.
    pub path: String,
    /// `Secure`.
    pub secure: bool,
    /// `HttpOnly`.
    pub http_only: bool,
    /// `SameSite`: `Lax`, `Strict`, `None`, or empty to omit.
    pub same_site: String,
}

fn quote_if_needed(value: &str) -> String {
    let legal = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~:".contains(c);
    if !value.is_empty() && value.chars().all(legal) {
        return value.to_owned();
    }
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if legal(c) || c == ' ' || "(),/<=>?@[]{}".contains(c) => out.push(c),
            c => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\{b:03o}"));
                }
            }
        }
    }
    out.push('"');
    out
}

/// A `Set-Cookie` value in Python `Morsel` order: Domain, expires, HttpOnly, Max-Age, Path,
/// SameSite, Secure. `max_age = None` makes a browser-session cookie.
///
/// ```
/// use sesame_axum::cookies::{set_cookie, CookieAttributes};
/// use chrono::TimeZone;
/// let attrs = CookieAttributes { path: "/".into(), http_only: true, same_site: "Lax".into(), ..Default::default() };
/// let now = chrono::Utc.timestamp_opt(1_700_000_000, 0).unwrap();
/// assert_eq!(
///     set_cookie("sessionid", "0123456789abcdefghijklmnopqrstuv", Some(1_209_600), now, &attrs),
///     "sessionid=0123456789abcdefghijklmnopqrstuv; expires=Tue, 28 Nov 2023 22:13:20 GMT; HttpOnly; Max-Age=1209600; Path=/; SameSite=Lax"
/// );
/// ```
pub fn set_cookie(
    name: &str,
    value: &str,
    max_age: Option<i64>,
    now: DateTime<Utc>,
    attrs: &CookieAttributes,
) -> String {
    let mut parts = vec![format!("{name}={}", quote_if_needed(value))];
    if let Some(d) = &attrs.domain {
        parts.push(format!("Domain={d}"));
    }
    if let Some(age) = max_age {
        let expires = now
            .checked_add_signed(chrono::TimeDelta::seconds(age))
            .unwrap_or(now);
        parts.push(format!("expires={}", http_date(expires)));
    }
    if attrs.http_only {
        parts.push("HttpOnly".into());
    }
    if let Some(age) = max_age {
        parts.push(format!("Max-Age={age}"));
    }
    if !attrs.path.is_empty() {
        parts.push(format!("Path={}", attrs.path));
    }
    if !attrs.same_site.is_empty() {
        parts.push(format!("SameSite={}", attrs.same_site));
    }
    if attrs.secure {
        parts.push("Secure".into());
    }
    parts.join("; ")
}

/// Django's `delete_cookie`: an empty value that expired in 1970, with the same path, domain
/// and SameSite, and `Secure` when the name demands it or SameSite is `None`.
pub fn delete_cookie(name: &str, attrs: &CookieAttributes) -> String {
    let secure = name.starts_with("__Secure-")
        || name.starts_with("__Host-")
        || attrs.same_site.eq_ignore_ascii_case("none");
    let mut parts = vec![format!("{name}=\"\"")];
    if let Some(d) = &attrs.domain {
        parts.push(format!("Domain={d}"));
    }
    parts.push("expires=Thu, 01 Jan 1970 00:00:00 GMT".into());
    parts.push("Max-Age=0".into());
    parts.push(format!(
        "Path={}",
        if attrs.path.is_empty() {
            "/"
        } else {
            &attrs.path
        }
    ));
    if !attrs.same_site.is_empty() {
        parts.push(format!("SameSite={}", attrs.same_site));
    }
    if secure || attrs.secure {
        parts.push("Secure".into());
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_occurrence_wins() {
        assert_eq!(
            get_cookie("sessionid=a; x=1; sessionid=b", "sessionid").as_deref(),
            Some("b")
        );
        assert_eq!(
            get_cookie("a=\"q\\\"uo\\073te\"", "a").as_deref(),
            Some("q\"uo;te")
        );
        assert_eq!(get_cookie("novalue; b=2", "b").as_deref(), Some("2"));
        assert_eq!(get_cookie("", "b"), None);
        assert_eq!(get_cookie(";;;=;", "b"), None);
    }

    /// Found by the `cookie` fuzz target: `"\777"` in a quoted value overflowed a byte, which
    /// panics in debug builds (a dropped connection for any `Cookie` header holding it).
    /// Python reads `\4..` to `\7..` as a backslash escape of the digit, as here now.
    #[test]
    fn octal_escape_above_377_is_not_octal_and_does_not_overflow() {
        assert_eq!(get_cookie("a=\"\\777\"", "a").as_deref(), Some("777"));
        assert_eq!(get_cookie("a=\"\\400x\"", "a").as_deref(), Some("400x"));
        assert_eq!(get_cookie("a=\"\\377\"", "a").as_deref(), Some("\u{fffd}"));
        assert_eq!(get_cookie("a=\"\\101\\77\"", "a").as_deref(), Some("A77"));
    }

    /// Found by the `cookie` fuzz target (its long inputs slowed it down): parsing removed the
    /// earlier pairs of each name as it went, quadratic in the number of cookies, so one
    /// `Cookie` header of 16 KB with distinct names cost about 45 ms of CPU per request in a
    /// debug build. Now linear. Timed on 128 KB (the layer reads at most 16 KB) so that the
    /// two differ by far more than any machine's noise: seconds before, milliseconds now.
    #[test]
    fn a_header_of_many_distinct_names_parses_in_linear_time() {
        let header: String = (0..40_000).map(|i| format!("{i:x}=;")).collect();
        let header = &header[..8 * MAX_COOKIE_HEADER];
        let start = std::time::Instant::now();
        assert!(parse_cookie(header).len() > 20_000);
        assert!(
            start.elapsed() < std::time::Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(
            parse_cookie("b=1; a=2; b=3; c; =d"),
            [("a", "2"), ("b", "3"), ("", "d")]
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .to_vec()
        );
    }

    #[test]
    fn delete_matches_django() {
        let attrs = CookieAttributes {
            path: "/".into(),
            http_only: true,
            same_site: "Lax".into(),
            ..Default::default()
        };
        assert_eq!(
            delete_cookie("sessionid", &attrs),
            "sessionid=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax"
        );
    }

    #[test]
    fn browser_session_cookie() {
        let attrs = CookieAttributes {
            path: "/".into(),
            http_only: true,
            same_site: "Lax".into(),
            ..Default::default()
        };
        assert_eq!(
            set_cookie("sessionid", "k", None, Utc::now(), &attrs),
            "sessionid=k; HttpOnly; Path=/; SameSite=Lax"
        );
    }
}
