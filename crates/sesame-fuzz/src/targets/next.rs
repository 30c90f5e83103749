//! `next` (`sesame_axum::redirect::url_has_allowed_host_and_scheme`), checked against what a
//! browser does with the URL, not against the function's own reading of it.
//!
//! Asserts: no panic; any URL accepted, once parsed as the WHATWG URL standard has browsers
//! parse it against a page of the site (by servo's `url` crate, and by the model below, which
//! also covers what `url` cannot resolve), stays on an allowed host with an http/https scheme
//! (or is relative to the site), both as given and as the `Location` the site sends
//! (`iri_to_uri`), which is a valid header for any input; `safe_next` agrees; the URL-quoting
//! of `redirect_to_login` is a valid header.

use crate::Target;
use crate::input::Input;
use sesame_axum::redirect::{
    iri_to_uri, login_url_with_next, safe_next, url_has_allowed_host_and_scheme,
};

/// The target.
pub const TARGET: Target = Target {
    name: "next",
    about: "url_has_allowed_host_and_scheme: accepted => on-site after WHATWG parsing, valid Location",
    run,
    seeds,
};

/// The site's hosts in the test (one with a port, as `ALLOWED_HOSTS` entries may have).
const HOSTS: &[&str] = &["testserver", "example.com:8000"];

/// Where a browser sends a redirect to `url` from a page of the site, by the WHATWG URL
/// parser's rules that matter for the host: tab, CR and LF removed anywhere, leading and
/// trailing C0 controls and spaces stripped, `\` read as `/` (http and https are "special"
/// schemes). `None` for a URL that stays on the site (relative), else the scheme and the
/// authority's host and port (lower-case).
fn browser_target(url: &str) -> Option<(String, String)> {
    let url: String = url
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let url = url.trim_matches(|c: char| c <= ' ');
    let url = url.replace('\\', "/");
    let scheme_end = url.find(':').filter(|&i| {
        let s = &url[..i];
        s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    let (scheme, rest) = match scheme_end {
        Some(i) => (url[..i].to_ascii_lowercase(), &url[i + 1..]),
        None => {
            // Relative: only "//..." (any number of slashes) names another host.
            if !url.starts_with("//") {
                return None;
            }
            (String::new(), url.as_str())
        }
    };
    if !scheme.is_empty() && scheme != "http" && scheme != "https" {
        // A non-special scheme (javascript:, data:, ...) is never on the site.
        return Some((scheme, String::new()));
    }
    // Special schemes ignore any number of slashes before the authority. With the scheme of
    // the page, "http:path" would be relative; the page may be https, so take the worse case.
    let authority = rest.trim_start_matches('/');
    let end = authority.find(['/', '?', '#']).unwrap_or(authority.len());
    let authority = &authority[..end];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    // The host parser percent-decodes before anything else.
    Some((scheme, percent_decode(host_port).to_lowercase()))
}

/// `%XX` decoded (as UTF-8, invalid sequences replaced), as the WHATWG host parser does.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| char::from(c).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn host_of(host_port: &str) -> &str {
    if host_port.starts_with('[') {
        return host_port.find(']').map_or(host_port, |i| &host_port[..=i]);
    }
    host_port.split(':').next().unwrap_or(host_port)
}

fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.byte();
    let url = String::from_utf8_lossy(input.rest()).into_owned();
    let require_https = flags & 1 == 1;
    let accepted = url_has_allowed_host_and_scheme(&url, HOSTS, require_https);
    // Every URL, not just this field: the fuzzer's whole input too.
    let whole = String::from_utf8_lossy(data);
    let accepted_whole = url_has_allowed_host_and_scheme(&whole, HOSTS, false);

    let expected = if url_has_allowed_host_and_scheme(&url, &["testserver"], require_https) {
        url.as_str()
    } else {
        "/fallback/"
    };
    assert_eq!(
        safe_next(Some(&url), "testserver", require_https, "/fallback/"),
        expected
    );
    for (url, accepted) in [(url.as_str(), accepted), (&*whole, accepted_whole)] {
        // What the site sends: `Location: iri_to_uri(next)`, always a valid header.
        let location = iri_to_uri(url);
        assert!(
            http::HeaderValue::from_str(&location).is_ok(),
            "{url:?} makes an invalid Location {location:?}"
        );
        if !accepted {
            continue;
        }
        // Where a browser goes from the URL as accepted, and from the Location it receives.
        for url in [url, location.as_str()] {
            // servo's WHATWG parser, from an http and an https page of the site: where it
            // resolves the URL, the host is the site's (or it resolves nowhere).
            for page in ["http://testserver/accounts/login/", "https://testserver/x/"] {
                let Ok(resolved) = url::Url::parse(page).and_then(|p| p.join(url)) else {
                    continue;
                };
                assert!(
                    matches!(resolved.scheme(), "http" | "https")
                        && matches!(resolved.host_str(), Some("testserver" | "example.com")),
                    "accepted {url:?}: from {page} a browser goes to {resolved}"
                );
            }
            let Some((scheme, host_port)) = browser_target(url) else {
                continue;
            };
            assert!(
                scheme.is_empty() || scheme == "http" || scheme == "https",
                "accepted {url:?}: a browser follows it to the scheme {scheme:?}"
            );
            let host = host_of(&host_port);
            // An empty host (`//`, `//?x`), or one with whitespace or a control character
            // (which UTS 46 refuses or maps to a space, a forbidden host code point), fails a
            // browser's URL parser for http and https: no redirect at all, so nowhere foreign.
            // (`url.trim()` leaves such hosts: `//\u{85}` is `//` to Django.)
            let unparsable =
                host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control());
            assert!(
                unparsable || HOSTS.iter().any(|h| host_of(h) == host),
                "accepted {url:?}: a browser follows it to the host {host_port:?}"
            );
        }
    }
    let login = login_url_with_next("/accounts/login/", &url);
    assert!(http::HeaderValue::from_str(&login).is_ok(), "{login:?}");
}

fn seeds() -> Vec<Vec<u8>> {
    [
        "\x00/accounts/profile/?a=b#c",
        "\x00https://testserver/x",
        "\x00//example.com:8000/",
        "\x01http:///evil.com",
        "\x00/\\evil.com",
        "\x00 \x01javascript:alert(1)",
        "\x00http://testserver@evil.com/",
        "\x00http://[::1]:8000/",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_model() {
        assert_eq!(browser_target("/a/b"), None);
        assert_eq!(browser_target("path"), None);
        assert_eq!(
            browser_target("/\t/evil.com/x"),
            Some((String::new(), "evil.com".into()))
        );
        assert_eq!(
            browser_target(" \x01\\\\evil.com"),
            Some((String::new(), "evil.com".into()))
        );
        assert_eq!(
            browser_target("HTTPS:///u:p@Evil.com:9/x"),
            Some(("https".into(), "evil.com:9".into()))
        );
        assert_eq!(
            browser_target("javascript:x").map(|t| t.0),
            Some("javascript".into())
        );
        assert_eq!(host_of("[::1]:8000"), "[::1]");
        assert_eq!(
            browser_target("//%45vil.com%"),
            Some((String::new(), "evil.com%".into()))
        );
        assert_eq!(host_of("example.com:8000"), "example.com");
    }
}
