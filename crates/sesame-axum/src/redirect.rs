//! `next` handling: Django's `url_has_allowed_host_and_scheme`, `redirect_to_login` and the
//! `iri_to_uri` of its redirects.

/// Whether `url` is safe to redirect to: relative, or on one of `allowed_hosts`, with an
/// `http`/`https` scheme (`https` only when `require_https`). Django's rules, including the
/// second pass with backslashes read as slashes and the refusal of control characters.
///
/// ```
/// use sesame_axum::redirect::url_has_allowed_host_and_scheme as safe;
/// let hosts = ["example.com"];
/// assert!(safe("/accounts/profile/", &hosts, false));
/// assert!(safe("https://example.com/x", &hosts, true));
/// assert!(!safe("//evil.com/x", &hosts, false));
/// assert!(!safe("/\\evil.com", &hosts, false));
/// assert!(!safe("javascript:alert(1)", &hosts, false));
/// assert!(!safe("http://example.com/", &hosts, true));
/// ```
pub fn url_has_allowed_host_and_scheme(
    url: &str,
    allowed_hosts: &[&str],
    require_https: bool,
) -> bool {
    let url = url.trim();
    if url.is_empty() {
        return false;
    }
    check(url, allowed_hosts, require_https)
        && check(&url.replace('\\', "/"), allowed_hosts, require_https)
}

/// What Python's `urlsplit` (and a browser) reads of `url`: leading C0 controls and spaces
/// stripped, tabs, carriage returns and newlines removed wherever they are. Django checks
/// the host of this text; a browser given `/\t/evil.example` goes to `//evil.example`.
fn as_browsers_read(url: &str) -> std::borrow::Cow<'_, str> {
    let start = url.trim_start_matches(|c: char| c <= ' ');
    if start.contains(['\t', '\r', '\n']) {
        std::borrow::Cow::Owned(start.replace(['\t', '\r', '\n'], ""))
    } else {
        std::borrow::Cow::Borrowed(start)
    }
}

struct Split<'a> {
    scheme: &'a str,
    netloc: &'a str,
}

/// The scheme and netloc as Python's `urlsplit` finds them.
fn split(url: &str) -> Option<Split<'_>> {
    let mut scheme = "";
    let mut rest = url;
    if let Some(colon) = url.find(':') {
        let candidate = &url[..colon];
        if !candidate.is_empty()
            && candidate
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
            && candidate
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            scheme = candidate;
            rest = &url[colon + 1..];
        }
    }
    let netloc = match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find(['/', '?', '#']).unwrap_or(after.len());
            &after[..end]
        }
        None => "",
    };
    // urlsplit refuses netlocs with unbalanced brackets.
    if netloc.contains('[') != netloc.contains(']') {
        return None;
    }
    Some(Split { scheme, netloc })
}

fn check(url: &str, allowed_hosts: &[&str], require_https: bool) -> bool {
    let read = as_browsers_read(url);
    // "///" (after what a browser drops) is a host to Chrome; Django checks the raw text
    // only and relies on iri_to_uri, Sesame refuses both.
    if url.starts_with("///") || read.starts_with("///") || url.len() > 2048 {
        return false;
    }
    let Some(parts) = split(&read) else {
        return false;
    };
    // "http:///example.com" would be read by browsers as a host.
    if parts.netloc.is_empty() && !parts.scheme.is_empty() {
        return false;
    }
    // Control characters and other "C*" categories first: browsers strip some of them.
    if url.chars().next().is_some_and(|c| {
        c.is_control() || ('\u{200b}'..='\u{200f}').contains(&c) || c == '\u{feff}'
    }) {
        return false;
    }
    let scheme = if parts.scheme.is_empty() && !parts.netloc.is_empty() {
        "http"
    } else {
        parts.scheme
    };
    let scheme = scheme.to_ascii_lowercase();
    (parts.netloc.is_empty() || allowed_hosts.contains(&parts.netloc))
        && (scheme.is_empty() || (!require_https && scheme == "http") || scheme == "https")
}

/// The `next` to redirect to after a login, or `fallback`: Django's `LoginView` checks it
/// with the request's (validated) host as the only allowed host, and with HTTPS required on
/// a secure request.
///
/// ```
/// use sesame_axum::redirect::safe_next;
/// assert_eq!(safe_next(Some("/inbox/"), "example.com", false, "/"), "/inbox/");
/// assert_eq!(safe_next(Some("/\t/evil.example/x"), "example.com", false, "/"), "/");
/// assert_eq!(safe_next(Some("http://example.com/x"), "example.com", true, "/"), "/");
/// ```
pub fn safe_next<'a>(
    next: Option<&'a str>,
    host: &str,
    require_https: bool,
    fallback: &'a str,
) -> &'a str {
    match next {
        Some(n) if url_has_allowed_host_and_scheme(n, &[host], require_https) => n,
        _ => fallback,
    }
}

/// `redirect_to_login(next, login_url)`: `login_url?next=<next>`, URL-encoded with `/` kept.
pub fn login_url_with_next(login_url: &str, next: &str) -> String {
    let sep = if login_url.contains('?') { '&' } else { '?' };
    format!("{login_url}{sep}next={}", quote(next))
}

/// Django's `iri_to_uri`: every byte outside `/#%[]=:;$&()+,!?*@'~`, letters, digits and
/// `_.-~` percent-encoded (UTF-8), so that a redirect's `Location` is always a valid header
/// and carries no character a browser would silently drop.
///
/// ```
/// use sesame_axum::redirect::iri_to_uri;
/// assert_eq!(iri_to_uri("/\t/evil.example/x"), "/%09/evil.example/x");
/// assert_eq!(iri_to_uri("/blog/for/Jürgen Münster/"), "/blog/for/J%C3%BCrgen%20M%C3%BCnster/");
/// assert_eq!(iri_to_uri("/a?b=1&c=%20#d"), "/a?b=1&c=%20#d");
/// ```
pub fn iri_to_uri(iri: &str) -> String {
    quote_with(iri, b"/#%[]=:;$&()+,!?*@'~")
}

/// `urllib.parse.quote(s, safe="/")`.
pub fn quote(s: &str) -> String {
    quote_with(s, b"/")
}

fn quote_with(s: &str, safe: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"_.-~".contains(&b) || safe.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn django_cases() {
        let hosts = ["testserver", "example.com:8000"];
        for good in [
            "/view/?param=http://example.com",
            "/view/?param=https://example.com",
            "/view?param=ftp://example.com",
            "view/?param=//example.com",
            "https://testserver/",
            "HTTPS://testserver/",
            "//testserver/",
            "http://example.com:8000/",
            "/url%20with%20spaces/",
            "path/http:2222222222",
            "http://testserver/confirm?email=me@example.com",
        ] {
            assert!(
                url_has_allowed_host_and_scheme(good, &hosts, false),
                "{good}"
            );
        }
        for bad in [
            "http://example.com",
            "http:///example.com",
            "https://example.com",
            "ftp://example.com",
            "\\\\example.com",
            "\\\\\\example.com",
            "/\\\\/example.com",
            "\\\\\\example.com",
            "\\\\example.com",
            "\\\\//example.com",
            "/\\/example.com",
            "\\/example.com",
            "/\\example.com",
            "http:///example.com",
            "http:/\\//example.com",
            "http:\\/example.com",
            "http:/\\example.com",
            "javascript:alert(\"XSS\")",
            "\njavascript:alert(x)",
            "java\nscript:alert(x)",
            "\x08//example.com",
            "http://otherserver\\@example.com",
            "http:\\\\testserver\\@example.com",
            "http://testserver\\me:pass@example.com",
            "http://testserver\\@example.com",
            "http:\\\\testserver\\confirm\\me@example.com",
            "http:999999999",
            "ftp:9999999999",
            "\n",
            "http://[2001:cdba:0000:0000:0000:0000:3257:9652/",
            "http://2001:cdba:0000:0000:0000:0000:3257:9652]/",
            "",
        ] {
            assert!(
                !url_has_allowed_host_and_scheme(bad, &hosts, false),
                "{bad:?}"
            );
        }
    }

    /// What browsers drop (WHATWG URL parsing removes tabs and newlines anywhere and strips
    /// leading C0 controls and spaces) must not hide a host: issue 15's `/\t/evil.example/x`.
    #[test]
    fn open_redirect_through_characters_browsers_drop() {
        let hosts = ["testserver"];
        for bad in [
            "/\t/evil.example/x",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "\t//evil.example",
            "/\t\\evil.example",
            "http:/\t/evil.example",
            "ht\ttp://evil.example",
            "/\t//evil.example",
            "/\t/\t/evil.example",
            "java\tscript:alert(1)",
        ] {
            assert!(
                !url_has_allowed_host_and_scheme(bad, &hosts, false),
                "{bad:?}"
            );
        }
        assert!(url_has_allowed_host_and_scheme("/a\tb/", &hosts, false));
        assert!(url_has_allowed_host_and_scheme(
            "/\t/testserver/x",
            &hosts,
            false
        ));
    }

    #[test]
    fn login_url() {
        assert_eq!(
            login_url_with_next("/accounts/login/", "/a b/?x=1&y"),
            "/accounts/login/?next=/a%20b/%3Fx%3D1%26y"
        );
    }
}
