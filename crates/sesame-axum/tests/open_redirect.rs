//! Open redirects, checked as a browser reads a `Location`: for any `next`, the redirect a
//! login answers with stays on the site. The browser is played by `url`, servo's WHATWG URL
//! parser (the standard Chromium and Firefox follow: tabs and newlines dropped, leading C0
//! controls and spaces stripped, `\` read as `/` in http(s) URLs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::http::StatusCode;
use proptest::prelude::*;
use sesame_axum::redirect::{iri_to_uri, safe_next};
use sesame_axum::security::redirect;

const HOST: &str = "testserver";
const FALLBACK: &str = "/accounts/profile/";

/// The `Location` a login with `next` answers with, and where a browser on
/// `http://testserver/accounts/login/` goes with it.
fn followed(next: &str, require_https: bool) -> (String, Option<url::Url>) {
    let target = safe_next(Some(next), HOST, require_https, FALLBACK);
    let response = redirect(StatusCode::FOUND, target);
    let location = response
        .headers()
        .get("location")
        .expect("a redirect always has a Location")
        .to_str()
        .expect("a Location is visible ASCII")
        .to_owned();
    // A secure request (require_https) was made over https, so its page's base is https.
    let scheme = if require_https { "https" } else { "http" };
    let base = url::Url::parse(&format!("{scheme}://testserver/accounts/login/")).expect("base");
    let to = base.join(&location).ok();
    (location, to)
}

fn assert_stays_on_site(next: &str, require_https: bool) {
    let (location, to) = followed(next, require_https);
    if let Some(to) = to {
        assert_eq!(
            to.host_str(),
            Some(HOST),
            "next={next:?} gave Location {location:?}, which a browser follows to {to}"
        );
        assert!(
            matches!(to.scheme(), "http" | "https"),
            "next={next:?} gave Location {location:?} with scheme {}",
            to.scheme()
        );
        if require_https {
            assert_eq!(to.scheme(), "https", "next={next:?} downgrades to {to}");
        }
    }
}

/// Pieces that open redirects are made of.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/".to_owned()),
        Just("//".to_owned()),
        Just("\\".to_owned()),
        Just("\t".to_owned()),
        Just("\n".to_owned()),
        Just("\r".to_owned()),
        Just(" ".to_owned()),
        Just("\u{0}".to_owned()),
        Just("\u{1f}".to_owned()),
        Just("\u{7f}".to_owned()),
        Just("\u{a0}".to_owned()),
        Just("\u{200b}".to_owned()),
        Just("\u{feff}".to_owned()),
        Just("\u{3002}".to_owned()),
        Just("\u{ff0f}".to_owned()),
        Just(":".to_owned()),
        Just("@".to_owned()),
        Just("?".to_owned()),
        Just("#".to_owned()),
        Just("%".to_owned()),
        Just("%2F".to_owned()),
        Just("%09".to_owned()),
        Just(".".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("http:".to_owned()),
        Just("https:".to_owned()),
        Just("HTTP:".to_owned()),
        Just("javascript:".to_owned()),
        Just("data:".to_owned()),
        Just("ftp:".to_owned()),
        Just("evil.example".to_owned()),
        Just("testserver".to_owned()),
        Just("testserver.evil.example".to_owned()),
        Just("127.0.0.1".to_owned()),
        Just("0x7f.1".to_owned()),
        Just("[::1]".to_owned()),
        Just(":8000".to_owned()),
        "[a-z0-9]{1,6}",
        any::<char>().prop_map(String::from),
    ]
}

fn next_value() -> impl Strategy<Value = String> {
    proptest::collection::vec(piece(), 0..10).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("SESAME_TEST_PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(4_000),
        ..ProptestConfig::default()
    })]

    #[test]
    fn open_redirect_any_next_stays_on_the_site(next in next_value(), https in any::<bool>()) {
        assert_stays_on_site(&next, https);
    }

    #[test]
    fn open_redirect_any_string_stays_on_the_site(next in any::<String>()) {
        assert_stays_on_site(&next, false);
    }

    #[test]
    fn iri_to_uri_always_makes_a_header_value(s in any::<String>()) {
        let uri = iri_to_uri(&s);
        prop_assert!(axum::http::HeaderValue::from_str(&uri).is_ok(), "{uri:?}");
    }
}

/// The cases of issue 15, as the report gave them.
#[test]
fn open_redirect_tab_and_newline_cases_from_the_report() {
    for next in [
        "/\t/evil.example/x",
        "/\n/evil.example",
        "/\r\n/evil.example",
    ] {
        let (location, to) = followed(next, false);
        assert_eq!(location, FALLBACK, "{next:?}");
        assert_eq!(
            to.and_then(|u| u.host_str().map(str::to_owned)).as_deref(),
            Some(HOST)
        );
    }
    // A safe next with a tab keeps it, encoded, so no browser drops it.
    let (location, _) = followed("/a\tb/", false);
    assert_eq!(location, "/a%09b/");
}
