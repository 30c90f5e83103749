//! CSRF tokens: the `csrftoken` cookie (`secret_from_cookie`), the submitted token
//! (`check_token_format`, `unmask_cipher_token`, `does_token_match`), from any text.
//!
//! Asserts: no panic; the format check is exactly "32 or 64 characters of the alphabet";
//! unmasking gives a secret of the alphabet; a masked secret unmasks to itself and matches
//! it, under any mask; a malformed token never matches.

use crate::Target;
use crate::input::{Input, join};
use sesame_core::csrf::{
    CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH, check_token_format, does_token_match, mask_with,
    secret_from_cookie, unmask_cipher_token,
};

/// The target.
pub const TARGET: Target = Target {
    name: "csrf",
    about: "CSRF cookie/token format, unmasking and matching; mask -> unmask identity",
    run,
    seeds,
};

fn in_alphabet(s: &str) -> bool {
    s.bytes()
        .all(|b| CSRF_ALLOWED_CHARS.as_bytes().contains(&b))
}

/// A 32-character string of the alphabet made from any bytes.
fn to_secret(bytes: &[u8]) -> String {
    let alphabet = CSRF_ALLOWED_CHARS.as_bytes();
    (0..CSRF_SECRET_LENGTH)
        .map(|i| {
            let b = bytes.get(i).copied().unwrap_or(i as u8);
            char::from(alphabet[usize::from(b) % alphabet.len()])
        })
        .collect()
}

fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let token = input.text();
    let secret_bytes = input.bytes();
    let mask_bytes = input.bytes();

    let well_formed = (token.len() == 32 || token.len() == 64) && in_alphabet(&token);
    assert_eq!(check_token_format(&token).is_ok(), well_formed, "{token:?}");
    let unmasked = unmask_cipher_token(&token);
    assert!(unmasked.len() <= CSRF_SECRET_LENGTH && in_alphabet(&unmasked));
    match secret_from_cookie(&token) {
        Ok(s) => assert!(well_formed && s.len() == CSRF_SECRET_LENGTH && in_alphabet(&s)),
        Err(_) => assert!(!well_formed),
    }

    let secret = to_secret(secret_bytes);
    let mask = to_secret(mask_bytes);
    let masked = mask_with(&secret, &mask);
    assert_eq!(unmask_cipher_token(&masked), secret);
    assert!(does_token_match(&masked, &secret));
    assert!(does_token_match(&secret, &secret));
    if !well_formed {
        assert!(!does_token_match(&token, &secret), "{token:?}");
    } else if does_token_match(&token, &secret) {
        // Only the secret itself or one of its masks matches.
        assert!(token == secret || unmask_cipher_token(&token) == secret);
    }
    // The token as the site reads it from a form body.
    let body = format!(
        "csrfmiddlewaretoken={}",
        sesame_axum::redirect::quote(&token)
    );
    assert_eq!(
        sesame_axum::form_field(body.as_bytes(), "csrfmiddlewaretoken").as_deref(),
        Some(token.as_str())
    );
}

fn seeds() -> Vec<Vec<u8>> {
    vec![
        b"2JgchWvM1tpxT2lfz9aydoXW9yT1DN3NdLiejYxOOlzzV4nhBbYqmqZYbAV3V5Bf".to_vec(),
        b"lcccccccX2kcccccccY2jcccccccssIC".to_vec(),
        join(&[&"\u{e9}".repeat(32).into_bytes(), b"secret", b"mask"]),
    ]
}
