//! `sesame_core::pyjson`: Python's `json.loads` / `json.dumps` as Django's serializers use
//! them (what session data, signed cookies and messages hold).
//!
//! Asserts: no panic; the writer's output is ASCII and reads back to the same text (loads ->
//! dumps is a fixed point after one step), in both separator styles; the latin-1 reader agrees
//! with the UTF-8 one on ASCII.

use crate::Target;
use serde_json::Value;
use sesame_core::pyjson::{Separators, dumps, dumps_compact, loads, loads_latin1};

/// The target.
pub const TARGET: Target = Target {
    name: "pyjson",
    about: "Python-exact JSON: loads on any text, dumps ASCII, dumps(loads(dumps(v))) == dumps(v)",
    run,
    seeds,
};

fn run(data: &[u8]) {
    let latin1 = loads_latin1(data);
    if data.is_ascii() {
        let text = String::from_utf8_lossy(data);
        assert_eq!(loads(&text).ok(), latin1.as_ref().ok().cloned());
    }
    let text = String::from_utf8_lossy(data);
    for parsed in [loads(&text).ok(), latin1.ok()].into_iter().flatten() {
        check(&parsed);
    }
}

fn check(v: &Value) {
    let compact = dumps_compact(v);
    assert!(compact.is_ascii(), "{compact:?}");
    match loads(&compact) {
        Ok(back) => assert_eq!(dumps_compact(&back), compact),
        Err(e) => panic!("own output {compact:?} unreadable: {e}"),
    }
    let spaced = dumps(v, Separators::Default);
    match loads(&spaced) {
        Ok(back) => assert_eq!(dumps_compact(&back), compact, "{spaced:?}"),
        Err(e) => panic!("own output {spaced:?} unreadable: {e}"),
    }
}

fn seeds() -> Vec<Vec<u8>> {
    [
        &br#"{"a": [1, -0, 2.5e-7, 1e400, 123456789012345678901234567890, "\u00e9\ud83d\udc0d"]}"#
            [..],
        br#"[["__json_message", 0, 20, "Hello"], {"a": null, "b": true}]"#,
        b"\"J\xf6rg\"",
        b"-0.0",
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect()
}
