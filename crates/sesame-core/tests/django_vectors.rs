//! Vectors written by real Django 5.2 (`scripts/django-vectors` regenerates
//! `tests/vectors/django-5.2.json`): passwords of every hasher (unicode, empty, over 72
//! bytes), sessions (unicode, nested, compressed, signed with a fallback key), signing,
//! signed cookies, messages, reset tokens in several time zones, CSRF and validators.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{DateTime, TimeZone, Utc};
use common::*;
use serde_json::Value;
use sesame_core::auth::hashers::*;
use sesame_core::auth::tokens::{PasswordResetTokenGenerator, TokenUser, uid_encode};
use sesame_core::auth::validators::{PasswordValidators, UserAttributes};
use sesame_core::messages::{CookieStorage, session_value};
use sesame_core::session::*;
use sesame_core::signing::*;

fn django() -> Value {
    load("django-5.2.json")
}

fn all_hashers() -> Hashers {
    Hashers::from_names(
        &[
            "pbkdf2_sha256",
            "pbkdf2_sha1",
            "argon2",
            "bcrypt_sha256",
            "scrypt",
            "bcrypt",
            "md5",
            "sha1",
            "unsalted_sha1",
            "unsalted_md5",
        ],
        "5.2",
    )
    .unwrap()
}

#[test]
fn passwords_of_every_hasher() {
    let hashers = all_hashers();
    for r in rows(&django(), "passwords") {
        let pw = s(r, "password");
        let Some(enc) = r["encoded"].as_str() else {
            // Django (bcrypt ≥ 5) refuses plain bcrypt over 72 bytes; so does Sesame.
            assert!(r["error"].is_string());
            assert_eq!(
                hashers.make_password_with(Some(pw), None, Some(s(r, "algorithm"))),
                Err(HashError::PasswordTooLong(pw.len()))
            );
            continue;
        };
        let h = hashers
            .identify(enc)
            .unwrap_or_else(|| panic!("identify {enc}"));
        assert_eq!(h.algorithm(), s(r, "algorithm"));
        assert!(h.verify(pw, enc), "{} {pw:?} {enc}", s(r, "algorithm"));
        assert!(
            !h.verify(&format!("{pw}!"), enc),
            "{} wrong password {enc}",
            s(r, "algorithm")
        );
        assert_eq!(
            h.must_update(enc),
            r["must_update"].as_bool().unwrap(),
            "must_update {enc}"
        );
    }
}

#[test]
fn unusable_passwords() {
    let hashers = all_hashers();
    for v in django()["passwords_unusable"].as_array().unwrap() {
        let enc = v.as_str().unwrap();
        assert_eq!(enc.len(), 41);
        assert!(!is_password_usable(enc));
        assert!(!hashers.check_password("", enc));
    }
}

#[test]
fn sessions_encode_and_decode() {
    let doc = django();
    for r in rows(&doc, "sessions") {
        let fallbacks = strings(r, "fallback_keys");
        let codec = SessionCodec::with_salt(s(r, "secret_key"), &fallbacks, DEFAULT_KEY_SALT);
        let data = object(r, "data");
        assert_eq!(codec.decode(s(r, "encoded")), data, "{}", s(r, "note"));
        assert_eq!(
            s(r, "encoded").starts_with('.'),
            r["compressed"].as_bool().unwrap()
        );
        if fallbacks.is_empty() {
            // Byte for byte, compression included (flate2 on the system zlib, as Python).
            assert_eq!(
                codec.encode_at(&data, i(r, "time")),
                s(r, "encoded"),
                "{}",
                s(r, "note")
            );
        }
    }
    for r in rows(&doc, "sessions_decode") {
        let codec = SessionCodec::with_salt(
            s(r, "secret_key"),
            &strings(r, "fallback_keys"),
            DEFAULT_KEY_SALT,
        );
        assert_eq!(
            codec.decode(s(r, "encoded")),
            object(r, "expected"),
            "{}",
            s(r, "note")
        );
    }
}

#[test]
fn signed_cookie_sessions() {
    for r in rows(&django(), "signed_cookies_sessions") {
        let store = SignedCookieStore::new(s(r, "secret_key"), &[] as &[&str], 1_209_600);
        let data = object(r, "data");
        assert_eq!(store.encode_at(&data, i(r, "time")), s(r, "cookie"));
        assert_eq!(
            store.load_at(s(r, "cookie"), i(r, "time") as f64 + 1_209_600.0),
            Some(data)
        );
        assert_eq!(
            store.load_at(s(r, "cookie"), i(r, "time") as f64 + 1_209_601.0),
            None
        );
    }
}

#[test]
fn signing_dumps_and_cookie_values() {
    let doc = django();
    for r in rows(&doc, "signing_dumps") {
        let signer = TimestampSigner::from_signer(Signer::new(s(r, "key")).with_salt(s(r, "salt")));
        let out = signer.sign_object_at(&r["obj"], r["compress"].as_bool().unwrap(), i(r, "time"));
        assert_eq!(out, s(r, "output"));
        assert_eq!(signer.unsign_object_at(&out, None, 0.0).unwrap(), r["obj"]);
    }
    for r in rows(&doc, "signed_cookie_values") {
        let out = signed_cookie_value(
            s(r, "name"),
            s(r, "value"),
            s(r, "salt"),
            s(r, "secret_key"),
            CookieSaltScheme::V2,
            i(r, "time"),
        );
        assert_eq!(out, s(r, "output"), "{}", s(r, "name"));
        let back = get_signed_cookie(
            s(r, "name"),
            &out,
            s(r, "salt"),
            s(r, "secret_key"),
            &[] as &[&str],
            None,
            true,
            0.0,
        );
        assert_eq!(back.as_deref(), Ok(s(r, "value")));
    }
}

#[test]
fn messages_storage() {
    let doc = django();
    for r in rows(&doc, "messages_cookie") {
        let storage = CookieStorage::new(s(r, "secret_key"), &[] as &[&str]);
        let msgs = messages(r);
        let (cookie, unstored) = storage.encode_at(&msgs, i(r, "time"));
        assert_eq!(cookie.as_deref(), Some(s(r, "cookie")));
        assert!(unstored.is_empty());
        assert_eq!(storage.decode(s(r, "cookie")).unwrap().messages, msgs);
    }
    for r in rows(&doc, "messages_session") {
        assert_eq!(
            session_value(&messages(r)),
            Some(Value::from(s(r, "value")))
        );
        assert_eq!(
            sesame_core::messages::from_session_value(&Value::from(s(r, "value"))),
            messages(r)
        );
    }
}

#[test]
fn session_auth_hashes() {
    for r in rows(&django(), "session_auth_hashes") {
        assert_eq!(
            sesame_core::auth::User::session_auth_hash_for(s(r, "password"), s(r, "secret_key")),
            s(r, "hash")
        );
    }
}

#[test]
fn reset_tokens_follow_time_zone() {
    for r in rows(&django(), "reset_tokens") {
        let g = PasswordResetTokenGenerator::new(
            s(r, "secret_key"),
            vec![],
            259_200,
            s(r, "time_zone"),
        )
        .unwrap();
        let user = TokenUser {
            pk: s(r, "pk"),
            password: s(r, "password"),
            last_login: r["last_login"]
                .as_str()
                .map(|l| parse_isoformat(l).unwrap()),
            email: s(r, "email"),
        };
        let at = |unix: i64| -> DateTime<Utc> { Utc.timestamp_opt(unix, 0).unwrap() };
        let now = g.timestamp_at(at(i(r, "now_unix")));
        assert_eq!(
            g.make_token_at(user, now),
            s(r, "token"),
            "{} {}",
            s(r, "time_zone"),
            i(r, "now_unix")
        );
        let until = i(r, "check_ok_until_unix");
        assert!(g.check_token_at(user, s(r, "token"), g.timestamp_at(at(until))));
        assert!(!g.check_token_at(user, s(r, "token"), g.timestamp_at(at(until + 1))));
        assert_eq!(uid_encode(s(r, "pk")), s(r, "uidb64"));
    }
}

#[test]
fn csrf_masked_tokens() {
    for r in rows(&django(), "csrf_masked") {
        assert_eq!(
            sesame_core::csrf::unmask_cipher_token(s(r, "token")),
            s(r, "secret")
        );
        assert!(sesame_core::csrf::does_token_match(
            s(r, "token"),
            s(r, "secret")
        ));
    }
}

#[test]
fn validators_match_django() {
    let v = PasswordValidators::django_default();
    for r in rows(&django(), "validators") {
        let user = r["user"].as_object().map(|u| UserAttributes {
            username: u["username"].as_str().unwrap_or_default().into(),
            first_name: u["first_name"].as_str().unwrap_or_default().into(),
            last_name: u["last_name"].as_str().unwrap_or_default().into(),
            email: u["email"].as_str().unwrap_or_default().into(),
        });
        let got: Vec<(String, String)> = v
            .validate(s(r, "password"), user.as_ref())
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| (e.code.to_owned(), e.message))
            .collect();
        let want: Vec<(String, String)> = r["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (s(e, "code").to_owned(), s(e, "message").to_owned()))
            .collect();
        assert_eq!(got, want, "{:?} {:?}", s(r, "password"), r["user"]);
    }
}

#[test]
fn expiry_rules() {
    for r in rows(&django(), "expiry") {
        let now = Utc.timestamp_opt(i(r, "now"), 0).unwrap();
        let arg = &r["set_expiry"];
        let expiry = if arg["none"].as_bool() == Some(true) {
            Expiry::Default
        } else if let Some(0) = arg["seconds"].as_i64() {
            Expiry::BrowserClose
        } else if let Some(n) = arg["seconds"].as_i64() {
            Expiry::Seconds(n)
        } else if let Some(n) = arg["timedelta_seconds"].as_i64() {
            Expiry::In(chrono::TimeDelta::seconds(n))
        } else {
            Expiry::At(
                chrono::DateTime::parse_from_rfc3339(arg["datetime"].as_str().unwrap()).unwrap(),
            )
        };
        let mut data = SessionData::new();
        if let Some(v) = sesame_core::session::stored_expiry_value(expiry, now) {
            data.insert(EXPIRY_KEY.into(), v);
        }
        assert_eq!(
            data.get(EXPIRY_KEY).cloned().unwrap_or(Value::Null),
            r["stored"],
            "{arg}"
        );
        assert_eq!(
            get_expiry_age(&data, 1_209_600, now),
            i(r, "expiry_age"),
            "{arg}"
        );
        assert_eq!(
            get_expiry_date(&data, 1_209_600, now),
            parse_isoformat(s(r, "expiry_date")).unwrap(),
            "{arg}"
        );
        assert_eq!(
            get_expire_at_browser_close(&data, false),
            r["expire_at_browser_close"].as_bool().unwrap(),
            "{arg}"
        );
    }
}
