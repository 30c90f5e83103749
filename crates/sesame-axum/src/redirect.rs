//! `next` handling: Django's `url_has_allowed_host_and_scheme` and `redirect_to_login`.

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
    // An ASCII control character anywhere (even where `trim` would drop it: the caller sends
    // the URL as given) refuses the URL. Browsers drop tab, CR and LF before reading the host
    // (`/\t/evil.com` is `//evil.com` to them), and no control character can be sent in a
    // `Location` header (the redirect would fail as a 500). Django's `urlsplit` strips the
    // first three and accepts; refusing is the safe side of both.
    if url.chars().any(|c| c.is_ascii_control()) {
        return false;
    }
    let url = url.trim();
    if url.is_empty() {
        return false;
    }
    check(url, allowed_hosts, require_https)
        && check(&url.replace('\\', "/"), allowed_hosts, require_https)
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
    if url.starts_with("///") || url.len() > 2048 {
        return false;
    }
    let Some(parts) = split(url) else {
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

/// `redirect_to_login(next, login_url)`: `login_url?next=<next>`, URL-encoded with `/` kept.
pub fn login_url_with_next(login_url: &str, next: &str) -> String {
    let sep = if login_url.contains('?') { '&' } else { '?' };
    format!("{login_url}{sep}next={}", quote(next))
}

/// `urllib.parse.quote(s, safe="/")`.
pub fn quote(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"_.-~/".contains(&b) {
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

    /// Found by the `next` fuzz target: a tab, CR or LF after the first character passed, so
    /// `/\t/evil.com` redirected a browser to evil.com, and any control character made a
    /// `Location` that cannot be sent (a 500 after a successful login).
    #[test]
    fn control_characters_inside_next_are_refused() {
        let hosts = ["testserver"];
        for bad in [
            "/\t/evil.com",
            "/\n/evil.com",
            "/\r\n/evil.com",
            "\\\t\\evil.com",
            "https:/\t/evil.com",
            "/accounts/profile/\x01",
            "/a\x7fb",
            "//testserver\t.evil.com/",
            "/accounts/profile/\n",
            "\t/accounts/profile/",
        ] {
            assert!(
                !url_has_allowed_host_and_scheme(bad, &hosts, false),
                "{bad:?}"
            );
        }
        assert!(url_has_allowed_host_and_scheme(" /a b/ ", &hosts, false));
    }

    #[test]
    fn login_url() {
        assert_eq!(
            login_url_with_next("/accounts/login/", "/a b/?x=1&y"),
            "/accounts/login/?next=/a%20b/%3Fx%3D1%26y"
        );
    }
}
