//! Property tests: encode→decode round trips, and no decoder panics on any input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use serde_json::{Map, Value};
use sesame_core::auth::hashers::Hashers;
use sesame_core::auth::tokens::{PasswordResetTokenGenerator, TokenUser, uid_decode, uid_encode};
use sesame_core::messages::{CookieStorage, Message, from_session_value, session_value};
use sesame_core::session::{SessionCodec, SignedCookieStore, parse_isoformat};
use sesame_core::signing::*;
use sesame_core::{csrf, pyjson};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".*".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((".*", inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn session_dict() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((".*", json_value()), 0..10).prop_map(|kv| kv.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn python_json_round_trips(v in json_value()) {
        let text = pyjson::dumps_compact(&v);
        prop_assert!(text.is_ascii());
        let back: Value = pyjson::loads(&text).unwrap();
        prop_assert_eq!(back, v);
    }

    #[test]
    fn session_round_trips(data in session_dict(), ts in 0i64..4_000_000_000) {
        let codec = SessionCodec::new("secret");
        let encoded = codec.encode_at(&data, ts);
        prop_assert_eq!(codec.decode(&encoded), data);
    }

    #[test]
    fn signing_round_trips(v in json_value(), compress in any::<bool>(), salt in ".*") {
        let s = TimestampSigner::from_signer(Signer::new("k").with_salt(salt));
        let signed = s.sign_object_at(&v, compress, 1);
        prop_assert_eq!(s.unsign_object_at(&signed, None, 0.0).unwrap(), v);
    }

    #[test]
    fn signed_cookie_round_trips(data in session_dict()) {
        let store = SignedCookieStore::new("k", &[] as &[&str], 100);
        let cookie = store.encode_at(&data, 1000);
        prop_assert_eq!(store.load_at(&cookie, 1050.0), Some(data));
    }

    #[test]
    fn base62_round_trips(n in any::<i64>()) {
        prop_assert_eq!(b62_decode(&b62_encode(n)), Some(n));
    }

    #[test]
    fn uid_round_trips(pk in ".{1,60}") {
        prop_assert_eq!(uid_decode(&uid_encode(&pk)), Some(pk));
    }

    #[test]
    fn csrf_mask_round_trips(secret in "[a-zA-Z0-9]{32}") {
        let token = csrf::mask_cipher_secret(&secret);
        prop_assert_eq!(csrf::unmask_cipher_token(&token), secret.clone());
        prop_assert!(csrf::does_token_match(&token, &secret));
    }

    #[test]
    fn messages_round_trip(msgs in prop::collection::vec((0i32..100, ".*", prop::option::of(".*"), any::<bool>()), 0..6)) {
        let msgs: Vec<Message> = msgs
            .into_iter()
            .map(|(level, message, extra_tags, is_safe)| Message { level, message, extra_tags, is_safe })
            .collect();
        if let Some(v) = session_value(&msgs) {
            prop_assert_eq!(from_session_value(&v), msgs.clone());
        }
        let storage = CookieStorage::new("k", &[] as &[&str]);
        let (cookie, unstored) = storage.encode_at(&msgs, 5);
        if let Some(cookie) = cookie {
            let mut back = unstored.clone();
            back.extend(storage.decode(&cookie).unwrap().messages);
            prop_assert_eq!(back, msgs);
        }
    }

    #[test]
    fn decoders_never_panic(input in ".*", bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let lossy = String::from_utf8_lossy(&bytes).into_owned();
        for text in [input.as_str(), lossy.as_str()] {
            let signer = TimestampSigner::new("k");
            let _ = signer.unsign_object_at(text, Some(10.0), 0.0);
            let _ = Signer::new("k").unsign(text);
            let _ = decode_payload(text);
            let _ = loads(text, "k", &["old"], "salt", Some(1.0));
            let _ = SessionCodec::new("k").decode(text);
            let _ = SignedCookieStore::new("k", &[] as &[&str], 10).load_at(text, 0.0);
            let _ = CookieStorage::new("k", &[] as &[&str]).decode(text);
            let _ = from_session_value(&Value::from(text));
            let _ = get_signed_cookie("n", text, "s", "k", &[] as &[&str], None, true, 0.0);
            let _ = b62_decode(text);
            let _ = b64_decode(text);
            let _ = b36_decode(text);
            let _ = uid_decode(text);
            let _ = parse_isoformat(text);
            let _ = pyjson::loads_latin1(text.as_bytes());
            let _ = csrf::check_token_format(text);
            let _ = csrf::does_token_match(text, "abcdefghijklmnopqrstuvwxyzABCDEF");
            let _ = csrf::unmask_cipher_token(text);
            let _ = csrf::secret_from_cookie(text);
            let g = PasswordResetTokenGenerator::new("k", vec![], 10, "UTC").unwrap();
            let user = TokenUser { pk: "1", password: "x", last_login: None, email: "" };
            let _ = g.check_token_at(user, text, 0);
        }
        let _ = pyjson::loads_latin1(&bytes);
    }

    #[test]
    fn password_decoders_never_panic(
        alg in prop_oneof![
            Just("pbkdf2_sha256"), Just("pbkdf2_sha1"), Just("argon2"), Just("bcrypt_sha256"),
            Just("bcrypt"), Just("scrypt"), Just("md5"), Just("sha1"), Just(""),
        ],
        fields in prop::collection::vec(prop_oneof![
            "[0-9]{1,4}".boxed(), ".{0,30}".boxed(), Just("argon2id".to_owned()).boxed(),
            Just("v=19".to_owned()).boxed(), "m=[0-9]{1,4},t=[0-9],p=[0-9]".boxed(),
            Just("$2b".to_owned()).boxed(), "[./A-Za-z0-9]{22,53}".boxed(),
        ], 0..7),
        password in ".{0,20}",
    ) {
        let encoded = std::iter::once(alg.to_owned()).chain(fields).collect::<Vec<_>>().join("$");
        let hashers = Hashers::from_names(
            &["md5", "pbkdf2_sha256", "pbkdf2_sha1", "argon2", "bcrypt_sha256", "bcrypt", "scrypt", "sha1", "unsalted_sha1", "unsalted_md5"],
            "5.2",
        ).unwrap();
        let _ = hashers.verify_password(&password, &encoded);
        if let Some(h) = hashers.identify(&encoded) {
            let _ = h.must_update(&encoded);
        }
    }
}
