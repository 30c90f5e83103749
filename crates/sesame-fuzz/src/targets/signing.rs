//! Signed values (`sesame_core::signing`): `Signer::unsign`, `TimestampSigner`, `loads`,
//! the payload decoder, and the base 62/36/64 codecs they use.
//!
//! Asserts: no panic; sign -> unsign gives the value back (with any separator the signer
//! accepts, and through a fallback key); a timestamp signs and reads back; an unsigned value
//! never verifies under another key or salt; encode -> decode of any JSON value is identity
//! (as Python's bytes); the base codecs round-trip.

use super::{KEY, OLD_KEY};
use crate::Target;
use crate::input::{Input, join};
use sesame_core::pyjson;
use sesame_core::signing::{
    Signer, TimestampSigner, b36_decode, b36_encode, b62_decode, b62_encode, b64_decode,
    b64_encode, decode_payload, encode_payload, loads,
};

/// The target.
pub const TARGET: Target = Target {
    name: "signing",
    about: "unsign/loads/TimestampSigner on any text; sign -> unsign, timestamps, payloads and base codecs round-trip",
    run,
    seeds,
};

fn run(data: &[u8]) {
    let whole = String::from_utf8_lossy(data);
    let signer = Signer::new(KEY).with_salt("fuzz");
    let stamped = TimestampSigner::from_signer(Signer::new(KEY).with_salt("fuzz"));
    let _ = signer.unsign(&whole);
    let _ = signer.unsign_object(&whole);
    let _ = stamped.unsign_at(&whole, Some(60.0), 1.7e9);
    let _ = stamped.unsign_object_at(&whole, Some(f64::MAX), 0.0);
    let _ = loads(&whole, KEY, &[OLD_KEY], "django.core.signing", None);
    let _ = decode_payload(&whole);
    let _ = b62_decode(&whole);
    let _ = b36_decode(&whole);
    let _ = b64_decode(&whole);

    let mut input = Input::new(data);
    let value = input.text();
    let sep = input.text();
    let ts = input.i64();

    // sign -> unsign, under the key and through a fallback.
    let signed = signer.sign(&value);
    assert_eq!(signer.unsign(&signed).ok(), Some(value.as_str()));
    let rotated = Signer::new("new key")
        .with_salt("fuzz")
        .with_fallback_keys([KEY]);
    assert_eq!(rotated.unsign(&signed).ok(), Some(value.as_str()));
    assert!(
        Signer::new(OLD_KEY)
            .with_salt("fuzz")
            .unsign(&signed)
            .is_err()
    );
    assert!(Signer::new(KEY).with_salt("other").unsign(&signed).is_err());

    // Any separator the signer accepts round-trips too.
    if let Ok(s) = Signer::new(KEY).with_sep(sep.as_str()) {
        let signed = s.sign(&value);
        assert_eq!(s.unsign(&signed).ok(), Some(value.as_str()), "sep {sep:?}");
    }

    // Timestamps: every i64 but the one whose magnitude i64 cannot hold.
    if ts != i64::MIN {
        let t = stamped.sign_at(&value, ts);
        assert_eq!(
            stamped.unsign_timestamp(&t).ok(),
            Some((value.as_str(), ts)),
            "{t:?}"
        );
        assert_eq!(b62_decode(&b62_encode(ts)), Some(ts));
    }
    assert_eq!(b36_decode(&b36_encode(ts as u64)), Some(ts as u64));
    assert_eq!(
        b64_decode(&b64_encode(value.as_bytes())),
        Some(value.into_bytes())
    );

    // Payloads: whatever JSON the input holds, compressed or not.
    if let Ok(v) = pyjson::loads(&whole) {
        let canonical = pyjson::dumps_compact(&v);
        for compress in [false, true] {
            let text = encode_payload(&v, compress);
            match decode_payload(&text) {
                Ok(back) => assert_eq!(pyjson::dumps_compact(&back), canonical, "{text:?}"),
                Err(e) => panic!("own payload {text:?} refused: {e}"),
            }
        }
        let t = stamped.sign_object_at(&v, true, 1_700_000_000);
        let back = stamped.unsign_object_at(&t, Some(10.0), 1_700_000_000.0);
        assert_eq!(
            back.ok().map(|b| pyjson::dumps_compact(&b)),
            Some(canonical)
        );
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let s = TimestampSigner::from_signer(Signer::new(KEY).with_salt("fuzz"));
    vec![
        s.sign_at("hello", 1_700_000_000).into_bytes(),
        Signer::new(KEY)
            .with_salt("fuzz")
            .sign("value:with:colons")
            .into_bytes(),
        join(&[b"value", b"/", b"\x00\x00\x00\x80"]),
        br#"{"a":[1,2.5,"\u00e9",{"b":null}],"big":123456789012345678901234567890}"#.to_vec(),
        b".eJyrVkpUsgKTxSVKtQ".to_vec(),
        b"-zzzzzzzzzzzz".to_vec(),
    ]
}
