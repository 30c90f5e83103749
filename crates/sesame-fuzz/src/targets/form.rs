//! Form bodies: the site's `Form<Vec<(String, String)>>` (serde_urlencoded), and
//! `sesame_axum::form_field`, which reads the CSRF token out of a body.
//!
//! Asserts: no panic; what parses re-encodes and parses back to the same pairs;
//! `form_field` gives the last value of a repeated name, as Django's `QueryDict.get`.

use crate::Target;

/// The target.
pub const TARGET: Target = Target {
    name: "form",
    about: "urlencoded form bodies: parse -> encode -> parse identity; form_field is the last value",
    run,
    seeds,
};

fn run(data: &[u8]) {
    let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(data) else {
        assert_eq!(sesame_axum::form_field(data, "csrfmiddlewaretoken"), None);
        return;
    };
    let encoded = match serde_urlencoded::to_string(&pairs) {
        Ok(e) => e,
        Err(e) => panic!("pairs {pairs:?} do not encode: {e}"),
    };
    let again = serde_urlencoded::from_str::<Vec<(String, String)>>(&encoded).ok();
    assert_eq!(
        again.as_ref(),
        Some(&pairs),
        "round trip through {encoded:?}"
    );
    // `form_field` parses the whole body again: a few names, not all (n² per input).
    let few = pairs.len().min(4);
    for name in pairs[..few]
        .iter()
        .chain(&pairs[pairs.len() - few..])
        .map(|(k, _)| k.as_str())
        .chain(["csrfmiddlewaretoken"])
    {
        let last = pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v);
        assert_eq!(
            sesame_axum::form_field(data, name).as_ref(),
            last,
            "{name:?}"
        );
    }
}

fn seeds() -> Vec<Vec<u8>> {
    [
        &b"csrfmiddlewaretoken=abc&username=admin&password=s3cret&next=%2Faccounts%2Fprofile%2F"[..],
        b"a=1&a=2&b&=c&&d=%zz+%C3%A9",
        b"x=%FF%FE&y=\xff",
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect()
}
