//! Every vector in `../shared/spec/` (copied to `tests/vectors/spec-vectors.json`, made by
//! real Django 5.2.19, 6.0.10 and 6.1.3 as the spec records) as a test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::Value;
use sesame_core::auth::User;
use sesame_core::auth::hashers::*;
use sesame_core::auth::tokens::{PasswordResetTokenGenerator, TokenUser, hash_value, uid_encode};
use sesame_core::crypto::{Algorithm, salted_hmac_hex};
use sesame_core::messages::{CookieStorage, session_value};
use sesame_core::session::{Expiry, SessionCodec, SignedCookieStore, isoformat, parse_isoformat};
use sesame_core::signing::*;
use std::sync::Arc;

fn spec() -> Value {
    load("spec-vectors.json")
}

fn alg(name: &str) -> Algorithm {
    Algorithm::from_name(name).unwrap()
}

#[test]
fn salted_hmac_v1() {
    for r in rows(&spec(), "salted_hmac") {
        assert_eq!(
            salted_hmac_hex(
                s(r, "key_salt"),
                s(r, "value"),
                s(r, "secret"),
                alg(s(r, "algorithm"))
            ),
            s(r, "hexdigest"),
            "{}",
            id(r)
        );
    }
}

#[test]
fn base64_and_base62() {
    let doc = spec();
    for r in rows(&doc, "base64") {
        let bytes = hex::decode(s(r, "bytes_hex")).unwrap();
        assert_eq!(b64_encode(&bytes), s(r, "encoded"), "{}", id(r));
        assert_eq!(b64_decode(s(r, "encoded")).unwrap(), bytes);
    }
    for r in rows(&doc, "base62") {
        assert_eq!(b62_encode(i(r, "int")), s(r, "encoded"), "{}", id(r));
        assert_eq!(b62_decode(s(r, "encoded")), Some(i(r, "int")));
    }
}

#[test]
fn signer_v2() {
    for r in rows(&spec(), "signer") {
        let key = match r["key_hex"].as_str() {
            Some(h) => hex::decode(h).unwrap(),
            None => s(r, "key").as_bytes().to_vec(),
        };
        let mut signer = Signer::new(&key).with_algorithm(alg(s(r, "algorithm")));
        if let Some(salt) = r["salt"].as_str() {
            signer = signer.with_salt(salt);
        }
        if s(r, "sep") != ":" {
            signer = signer.with_sep(s(r, "sep")).unwrap();
        }
        if let Some(out) = r["output"].as_str() {
            assert_eq!(signer.sign(s(r, "input")), out, "{}", id(r));
            assert_eq!(signer.unsign(out), Ok(s(r, "input")));
        } else {
            assert_eq!(
                signer.signature(s(r, "input")),
                s(r, "signature"),
                "{}",
                id(r)
            );
        }
    }
}

#[test]
fn timestamp_signer_v3() {
    for r in rows(&spec(), "timestamp_signer") {
        let signer = TimestampSigner::new(s(r, "key"));
        let out = signer.sign_at(s(r, "input"), i(r, "time"));
        assert_eq!(out, s(r, "output"));
        let now = i(r, "unsign_time") as f64;
        for age in r["max_age_ok"].as_array().unwrap() {
            assert_eq!(
                signer.unsign_at(&out, Some(age.as_f64().unwrap()), now),
                Ok(s(r, "input"))
            );
        }
        for age in r["max_age_expired"].as_array().unwrap() {
            assert!(matches!(
                signer.unsign_at(&out, Some(age.as_f64().unwrap()), now),
                Err(SigningError::Expired { .. })
            ));
        }
    }
}

#[test]
fn signing_dumps_v4() {
    for r in rows(&spec(), "signing_dumps") {
        let signer = TimestampSigner::from_signer(
            Signer::new(s(r, "key"))
                .with_salt(s(r, "salt"))
                .with_algorithm(alg(s(r, "algorithm"))),
        );
        let out = signer.sign_object_at(&r["obj"], r["compress"].as_bool().unwrap(), i(r, "time"));
        assert_eq!(out, s(r, "output"), "{}", id(r));
        assert_eq!(signer.unsign_object_at(&out, None, 0.0).unwrap(), r["obj"]);
    }
}

#[test]
fn session_encode_v5() {
    for r in rows(&spec(), "session_encode") {
        let codec = SessionCodec::with_salt(s(r, "secret_key"), &[] as &[&str], s(r, "salt"));
        let data = object(r, "data");
        assert_eq!(
            codec.encode_at(&data, i(r, "time")),
            s(r, "encoded"),
            "{}",
            id(r)
        );
        assert_eq!(codec.decode(s(r, "encoded")), data);
    }
}

#[test]
fn session_decode_v5_v9_v10_d1_d2() {
    for r in rows(&spec(), "session_decode") {
        let codec = SessionCodec::with_salt(
            s(r, "secret_key"),
            &strings(r, "fallback_keys"),
            s(r, "salt"),
        );
        assert_eq!(
            codec.decode(s(r, "encoded")),
            object(r, "expected"),
            "{}",
            id(r)
        );
    }
}

#[test]
fn signed_cookies_v8() {
    for r in rows(&spec(), "signed_cookies_session") {
        let store = SignedCookieStore::new(s(r, "secret_key"), &[] as &[&str], 1_209_600);
        let data = object(r, "data");
        assert_eq!(
            store.encode_at(&data, i(r, "time")),
            s(r, "cookie"),
            "{}",
            id(r)
        );
        for t in r["load_ok_at"].as_array().into_iter().flatten() {
            assert_eq!(
                store.load_at(s(r, "cookie"), t.as_f64().unwrap()),
                Some(data.clone()),
                "{}",
                id(r)
            );
        }
        for t in r["load_empty_at"].as_array().into_iter().flatten() {
            assert_eq!(
                store.load_at(s(r, "cookie"), t.as_f64().unwrap()),
                None,
                "{}",
                id(r)
            );
        }
    }
}

#[test]
fn signed_cookie_values_v12_v13() {
    for r in rows(&spec(), "signed_cookie_value") {
        if s(r, "algorithm") != "sha256" {
            continue; // Django 3.0's sha1 cookies: unreadable since Django 4.0, as here.
        }
        let scheme = match s(r, "scheme") {
            "v2" => CookieSaltScheme::V2,
            _ => CookieSaltScheme::Legacy,
        };
        let out = signed_cookie_value(
            s(r, "name"),
            s(r, "value"),
            s(r, "salt"),
            s(r, "secret_key"),
            scheme,
            i(r, "time"),
        );
        assert_eq!(out, s(r, "output"), "{}", id(r));
        // Both schemes read back through get_signed_cookie (legacy via the fallback).
        let read = get_signed_cookie(
            s(r, "name"),
            &out,
            s(r, "salt"),
            s(r, "secret_key"),
            &[] as &[&str],
            Some(100.0),
            true,
            i(r, "time") as f64 + 100.0,
        );
        assert_eq!(read.as_deref(), Ok(s(r, "value")), "{}", id(r));
        let expired = get_signed_cookie(
            s(r, "name"),
            &out,
            s(r, "salt"),
            s(r, "secret_key"),
            &[] as &[&str],
            Some(99.0),
            true,
            i(r, "time") as f64 + 100.0,
        );
        assert!(
            matches!(expired, Err(SigningError::Expired { .. })),
            "{}",
            id(r)
        );
        if scheme == CookieSaltScheme::Legacy {
            let strict = get_signed_cookie(
                s(r, "name"),
                &out,
                s(r, "salt"),
                s(r, "secret_key"),
                &[] as &[&str],
                None,
                false,
                0.0,
            );
            assert!(strict.is_err());
        }
    }
}

#[test]
fn session_auth_hashes_v7_s1_s3() {
    for r in rows(&spec(), "session_auth_hash") {
        let got = salted_hmac_hex(
            "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash",
            s(r, "password"),
            s(r, "secret_key"),
            alg(s(r, "algorithm")),
        );
        assert_eq!(got, s(r, "hash"), "{}", id(r));
        if s(r, "algorithm") == "sha256" {
            assert_eq!(
                User::session_auth_hash_for(s(r, "password"), s(r, "secret_key")),
                s(r, "hash")
            );
        }
    }
}

#[test]
fn csrf_v14() {
    let doc = spec();
    for r in rows(&doc, "csrf_unmask") {
        assert_eq!(
            sesame_core::csrf::unmask_cipher_token(s(r, "token")),
            s(r, "secret"),
            "{}",
            id(r)
        );
        assert!(sesame_core::csrf::does_token_match(
            s(r, "token"),
            s(r, "secret")
        ));
    }
    for r in rows(&doc, "csrf_mask") {
        assert_eq!(
            sesame_core::csrf::mask_with(s(r, "secret"), s(r, "mask")),
            s(r, "token")
        );
    }
}

#[test]
fn messages_v11() {
    let doc = spec();
    for r in rows(&doc, "messages_cookie") {
        if r["format"].as_str() != Some("current") {
            // Django ≤3.0's `hexmac$json` format: Django 4.0+ cannot read it, nor can Sesame.
            let storage = CookieStorage::new(s(r, "secret_key"), &[] as &[&str]);
            assert!(storage.decode(s(r, "cookie")).is_none(), "{}", id(r));
            continue;
        }
        let storage = CookieStorage::new(s(r, "secret_key"), &[] as &[&str]);
        let msgs = messages(r);
        if r["not_finished_sentinel"].as_bool() == Some(true) {
            let back = storage.decode(s(r, "cookie")).unwrap();
            assert!(!back.all_retrieved);
            assert_eq!(back.messages, msgs, "{}", id(r));
            continue;
        }
        let (cookie, unstored) = storage.encode_at(&msgs, i(r, "time"));
        assert_eq!(cookie.as_deref(), Some(s(r, "cookie")), "{}", id(r));
        assert!(unstored.is_empty());
        assert_eq!(storage.decode(s(r, "cookie")).unwrap().messages, msgs);
    }
    for r in rows(&doc, "messages_session") {
        assert_eq!(
            session_value(&messages(r)),
            Some(Value::from(s(r, "value"))),
            "{}",
            id(r)
        );
    }
    for r in rows(&doc, "messages_json") {
        let msgs = messages(r);
        let encoded = if s(r, "json").starts_with("[[") {
            Value::Array(msgs.iter().map(|m| m.to_json()).collect())
        } else {
            msgs[0].to_json()
        };
        assert_eq!(
            sesame_core::pyjson::dumps_compact(&encoded),
            s(r, "json"),
            "{}",
            id(r)
        );
    }
}

#[test]
fn set_expiry_v15() {
    for r in rows(&spec(), "set_expiry") {
        let now = parse_isoformat(s(r, "now_iso")).unwrap();
        let arg = &r["arg"];
        let expiry = if let Some(secs) = arg["timedelta_seconds"].as_i64() {
            Expiry::In(chrono::TimeDelta::seconds(secs))
        } else {
            Expiry::At(
                chrono::DateTime::parse_from_rfc3339(arg["datetime"].as_str().unwrap()).unwrap(),
            )
        };
        let stored = match expiry {
            Expiry::In(d) => isoformat(&(now + d)),
            Expiry::At(at) => isoformat(&at),
            _ => unreachable!(),
        };
        assert_eq!(stored, s(r, "stored"), "{}", id(r));
    }
}

fn hasher_for(r: &Value) -> Option<Arc<dyn PasswordHasher>> {
    let p = &r["params"];
    let n = |k: &str| p[k].as_u64().unwrap();
    Some(match s(r, "algorithm") {
        "pbkdf2_sha256" => Arc::new(Pbkdf2Hasher::sha256(n("iterations") as u32)),
        "pbkdf2_sha1" => Arc::new(Pbkdf2Hasher::sha1(n("iterations") as u32)),
        "argon2" => Arc::new(Argon2Hasher {
            memory_cost: n("memory_cost") as u32,
            time_cost: n("time_cost") as u32,
            parallelism: n("parallelism") as u32,
        }),
        "bcrypt_sha256" => Arc::new(BcryptSha256Hasher::with_rounds(n("rounds") as u32)),
        "bcrypt" => Arc::new(BcryptHasher::with_rounds(n("rounds") as u32)),
        "scrypt" => Arc::new(ScryptHasher {
            work_factor: n("n"),
            block_size: n("r") as u32,
            parallelism: n("p") as u32,
        }),
        "md5" => Arc::new(Md5Hasher),
        "sha1" => Arc::new(Sha1Hasher),
        "unsalted_sha1" => Arc::new(UnsaltedSha1Hasher),
        "unsalted_md5" => Arc::new(UnsaltedMd5Hasher),
        _ => return None,
    })
}

#[test]
fn passwords_h01_h21_l1_l4() {
    let django60 = Hashers::from_names(
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
        "6.0",
    )
    .unwrap();
    for r in rows(&spec(), "passwords") {
        let Some(hasher) = hasher_for(r) else {
            // L4 `crypt` (removed in Django 5.0): not identified, so never valid.
            assert!(
                !django60.check_password(s(r, "password"), s(r, "encoded")),
                "{}",
                id(r)
            );
            continue;
        };
        let (pw, enc) = (s(r, "password"), s(r, "encoded"));
        assert!(hasher.verify(pw, enc), "{} verifies", id(r));
        assert!(
            django60.check_password(pw, enc),
            "{} through identify",
            id(r)
        );
        assert!(
            !hasher.verify(&format!("{pw}x"), enc),
            "{} wrong password",
            id(r)
        );
        if let Some(salt) = r["salt"].as_str() {
            match hasher.encode(pw, salt) {
                Ok(out) => assert_eq!(out, enc, "{} encodes", id(r)),
                Err(HashError::VerifyOnly(_)) => {}
                Err(e) => panic!("{}: {e}", id(r)),
            }
        }
        if let Some(expected) = r["must_update_django60"].as_bool() {
            let h = django60.identify(enc).unwrap();
            assert_eq!(h.must_update(enc), expected, "{} must_update", id(r));
        }
    }
}

#[test]
fn reset_tokens_t1_t3() {
    for r in rows(&spec(), "reset_tokens") {
        if s(r, "algorithm") != "sha256" {
            continue; // the pre-3.1 sha1 generator: Django 4.0+ refuses its tokens, as here.
        }
        let pk = match &r["pk"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let user = TokenUser {
            pk: &pk,
            password: s(r, "password"),
            last_login: r["last_login"]
                .as_str()
                .map(|l| parse_isoformat(l).unwrap()),
            email: s(r, "email"),
        };
        let g =
            PasswordResetTokenGenerator::new(s(r, "secret_key"), vec![], i(r, "timeout"), "UTC")
                .unwrap();
        let ts = i(r, "ts");
        assert_eq!(hash_value(user, ts), s(r, "hash_value"), "{}", id(r));
        assert_eq!(g.make_token_at(user, ts), s(r, "token"), "{}", id(r));
        assert!(g.check_token_at(user, s(r, "token"), ts + i(r, "valid_at_offset")));
        assert!(!g.check_token_at(user, s(r, "token"), ts + i(r, "invalid_at_offset")));
        assert_eq!(uid_encode(&pk), s(r, "uidb64"));
        // A fallback key still verifies.
        let rotated = PasswordResetTokenGenerator::new(
            "new-key",
            vec![s(r, "secret_key").to_owned()],
            i(r, "timeout"),
            "UTC",
        )
        .unwrap();
        assert!(rotated.check_token_at(user, s(r, "token"), ts));
    }
}

#[test]
fn uidb64_examples() {
    for r in rows(&spec(), "uidb64") {
        let pk = match &r["pk"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        assert_eq!(uid_encode(&pk), s(r, "uidb64"), "{}", id(r));
        assert_eq!(
            sesame_core::auth::tokens::uid_decode(s(r, "uidb64")),
            Some(pk)
        );
    }
}

#[test]
fn login_e2e_v6() {
    let doc = spec();
    let r = &doc["login_e2e"];
    let codec = SessionCodec::new(s(r, "secret_key"));
    let decoded = object(r, "decoded");
    assert_eq!(codec.decode(s(r, "session_data")), decoded);
    assert_eq!(
        codec.encode_at(&decoded, i(r, "time")),
        s(r, "session_data")
    );
    assert_eq!(
        User::session_auth_hash_for(s(r, "password"), s(r, "secret_key")),
        s(r, "auth_user_hash")
    );
    assert_eq!(
        sesame_core::pyjson::dumps_compact(&Value::Object(decoded)),
        s(r, "decoded_json")
    );
}
