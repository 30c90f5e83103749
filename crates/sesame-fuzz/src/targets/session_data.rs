//! `session_data` text -> session dict (`SessionCodec`): the signature, the timestamp, base64,
//! zlib and the JSON behind them.
//!
//! Asserts: no panic on forged text (`decode` gives an empty session); with the input signed
//! as the payload (so that base64, zlib and JSON are reached, which a forger cannot), the
//! decode cache answers exactly what an uncached decode does; and any JSON object the input
//! holds encodes to `session_data` that decodes to the same object (compared as Python's
//! bytes, the form Django reads).

use super::KEY;
use crate::Target;
use crate::input::join;
use serde_json::Value;
use sesame_core::pyjson;
use sesame_core::session::{DEFAULT_KEY_SALT, SessionCodec};
use sesame_core::signing::{Signer, TimestampSigner, encode_payload};

/// The target.
pub const TARGET: Target = Target {
    name: "session_data",
    about: "session_data decode (forged and signed payloads), cache == uncached, encode -> decode identity",
    run,
    seeds,
};

const NOW: i64 = 1_700_000_000;

fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let uncached = SessionCodec::new(KEY).with_decode_cache(0);
    let cached = SessionCodec::new(KEY).with_decode_cache(1 << 20);

    // As it comes from a cookie or a row: forged (but for the seeds), so it fails quietly.
    let _ = uncached.decode(&text);

    // As if the signature were right: the payload parsers behind it.
    let signer = TimestampSigner::from_signer(Signer::new(KEY).with_salt(DEFAULT_KEY_SALT));
    let signed = signer.sign_at(&text, NOW);
    let expected = uncached.try_decode(&signed).map_err(|e| e.to_string());
    for _ in 0..2 {
        assert_eq!(
            cached.try_decode(&signed).map_err(|e| e.to_string()),
            expected,
            "cache disagrees on {signed:?}"
        );
    }

    // Encode -> decode, for whatever object the input holds.
    if let Ok(Value::Object(map)) = pyjson::loads(&text) {
        let encoded = uncached.encode_at(&map, NOW);
        match uncached.try_decode(&encoded) {
            Ok(back) => assert_eq!(
                pyjson::dumps_compact(&Value::Object(back)),
                pyjson::dumps_compact(&Value::Object(map)),
                "round trip through {encoded:?}"
            ),
            Err(e) => panic!("own encoding {encoded:?} refused: {e}"),
        }
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let codec = SessionCodec::new(KEY);
    let Ok(Value::Object(small)) = pyjson::loads(r#"{"_auth_user_id":"1","n":[1,2.5,null]}"#)
    else {
        return Vec::new();
    };
    let big: serde_json::Map<String, Value> = (0..50)
        .map(|i| (format!("key{i}"), Value::from("a repeated value")))
        .collect();
    vec![
        codec.encode_at(&small, NOW).into_bytes(),
        codec.encode_at(&big, NOW).into_bytes(),
        br#"{"_auth_user_id":"1","_auth_user_backend":"django.contrib.auth.backends.ModelBackend","_auth_user_hash":"abc"}"#.to_vec(),
        encode_payload(&Value::Object(big), true).into_bytes(),
        b"eyJhIHRlc3Qga2V5IjoiYSB0ZXN0IHZhbHVlIn0:1r31eq:z3T5kuYwaLspnAAUpfRWpbinC-rn6c6P1Qf9PsCyZ2s".to_vec(),
        join(&[b".eJyrVkpUsgKTxSVKtQ", b"{\"a\": 1e400}"]),
    ]
}
