//! Password-reset links: `uidb64` (`uid_decode`) and the token (`check_token`), from any text.
//!
//! Asserts: no panic; `uid_decode` of `uid_encode` is identity, and what decodes re-encodes to
//! text that decodes the same; a token made for a user checks for that user until the timeout
//! and not after, and not once the password or e-mail changed; a token from the input checks
//! only if it is the token the generator makes for its timestamp.

use super::{KEY, OLD_KEY};
use crate::Target;
use crate::input::{Input, join};
use chrono::DateTime;
use sesame_core::auth::tokens::{PasswordResetTokenGenerator, TokenUser, uid_decode, uid_encode};

/// The target.
pub const TARGET: Target = Target {
    name: "reset_token",
    about: "uid_decode/check_token on any text; uid and token round trips, expiry and invalidation",
    run,
    seeds,
};

const TIMEOUT: i64 = 259_200;

fn run(data: &[u8]) {
    let Ok(generator) =
        PasswordResetTokenGenerator::new(KEY, vec![OLD_KEY.into()], TIMEOUT, "America/Chicago")
    else {
        panic!("the generator's settings are constants")
    };
    let mut input = Input::new(data);
    let uid = input.text();
    let token = input.text();
    let pk = input.text();
    let password = input.text();
    let email = input.text();
    let login = input.i64();
    // Timestamps between 2001 and about 2100: what a clock gives, and room to add TIMEOUT.
    let ts = input.i64().rem_euclid(3_200_000_000);

    if let Some(decoded) = uid_decode(&uid) {
        assert_eq!(uid_decode(&uid_encode(&decoded)), Some(decoded));
    }
    let encoded = uid_encode(&pk);
    if encoded.len() <= 256 {
        assert_eq!(uid_decode(&encoded), Some(pk.clone()));
    }

    let user = TokenUser {
        pk: &pk,
        password: &password,
        last_login: DateTime::from_timestamp(login % 100_000_000_000, 0),
        email: &email,
    };
    let Ok(old) = PasswordResetTokenGenerator::new(OLD_KEY, vec![], TIMEOUT, "UTC") else {
        panic!("the generator's settings are constants")
    };
    if generator.check_token_at(user, &token, ts) {
        let Some((ts36, _)) = token.split_once('-') else {
            panic!("{token:?} checked without a '-'")
        };
        let Some(t) = sesame_core::signing::b36_decode(ts36).and_then(|t| i64::try_from(t).ok())
        else {
            panic!("{token:?} checked with a bad timestamp")
        };
        assert!(
            generator.make_token_at(user, t) == token || old.make_token_at(user, t) == token,
            "forged token accepted: {token:?}"
        );
    }

    let made = generator.make_token_at(user, ts);
    assert!(generator.check_token_at(user, &made, ts), "{made:?}");
    assert!(generator.check_token_at(user, &made, ts + TIMEOUT));
    assert!(!generator.check_token_at(user, &made, ts + TIMEOUT + 1));
    let changed = format!("{password}!");
    let other = TokenUser {
        password: &changed,
        ..user
    };
    assert!(!generator.check_token_at(other, &made, ts));
    let by_old_key = old.make_token_at(user, ts);
    assert!(
        generator.check_token_at(user, &by_old_key, ts),
        "fallback key"
    );
}

fn seeds() -> Vec<Vec<u8>> {
    vec![
        join(&[
            b"MQ",
            b"c4ak5x-0123456789abcdef0123456789abcdef",
            b"1",
            b"pbkdf2_sha256$1000000$salt$hash",
            b"a@example.com",
            b"\x00\x10\x5e\x5f",
            b"\x00\xa0\xf0\x2c",
        ]),
        join(&[
            b"NjU0ZjFhMmIzYzRkNWU2Zjc4OTBhYmNk",
            b"zzzzzzzzzzzzz-",
            b"",
            b"!",
            b"",
        ]),
        join(&[b"=====", b"-"]),
    ]
}
