//! `Cookie` header parsing (`sesame_axum::cookies`, Django's `parse_cookie`).
//!
//! Asserts: no panic; a name appears once in the result, with the value `get_cookie` gives
//! (the last occurrence wins); any value written by `set_cookie` is a valid header and reads
//! back unchanged from the `name=value` pair a browser returns.

use crate::Target;
use crate::input::{Input, join};
use chrono::DateTime;
use sesame_axum::cookies::{CookieAttributes, get_cookie, parse_cookie, set_cookie};

/// The target.
pub const TARGET: Target = Target {
    name: "cookie",
    about: "Cookie header parsing: last value wins, names unique; set_cookie -> parse round trip",
    run,
    seeds,
};

fn run(data: &[u8]) {
    let header = String::from_utf8_lossy(data);
    let parsed = parse_cookie(&header);
    let mut names: Vec<&str> = parsed.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    assert!(
        names.windows(2).all(|w| w[0] != w[1]),
        "a name twice in {parsed:?}"
    );
    // `get_cookie` parses the whole header again: a few names, not all (n² per input).
    let few = parsed.len().min(4);
    for (name, value) in parsed[..few].iter().chain(&parsed[parsed.len() - few..]) {
        assert_eq!(
            get_cookie(&header, name).as_deref(),
            Some(value.as_str()),
            "get_cookie({name:?}) of {header:?}"
        );
    }

    let mut input = Input::new(data);
    let value = input.text();
    let attrs = CookieAttributes {
        path: "/".into(),
        http_only: true,
        same_site: "Lax".into(),
        ..Default::default()
    };
    let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
    let line = set_cookie("sessionid", &value, Some(1_209_600), now, &attrs);
    assert!(
        http::HeaderValue::from_str(&line).is_ok(),
        "set_cookie wrote an invalid header for {value:?}: {line:?}"
    );
    // What the browser sends back: the first `name=value` of Set-Cookie.
    let pair = line.split(';').next().unwrap_or_default();
    assert_eq!(
        get_cookie(pair, "sessionid").as_deref(),
        Some(value.as_str()),
        "round trip through {pair:?}"
    );
}

fn seeds() -> Vec<Vec<u8>> {
    [
        &b"sessionid=0123456789abcdefghijklmnopqrstuv; csrftoken=abc"[..],
        b"a=\"q\\\"uo\\073te\"; a=2; b",
        b"=;;; x=\"\\777\\\\\"",
        &join(&[b"\"quoted; value\" \xc3\xa9", b""]),
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect()
}
