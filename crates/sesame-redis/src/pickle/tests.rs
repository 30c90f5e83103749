#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "vectors.rs"]
mod vectors;

use super::*;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn limits() -> Limits {
    Limits::default()
}

fn variant(e: &DecodeError) -> &'static str {
    match e {
        DecodeError::TooLarge { .. } => "TooLarge",
        DecodeError::NotProtocol2To5 => "NotProtocol2To5",
        DecodeError::Truncated => "Truncated",
        DecodeError::Forbidden { .. } => "Forbidden",
        DecodeError::Unsupported { .. } => "Unsupported",
        DecodeError::UnknownOpcode { .. } => "UnknownOpcode",
        DecodeError::Malformed { .. } => "Malformed",
        DecodeError::InvalidUtf8 => "InvalidUtf8",
        DecodeError::IntegerTooLarge => "IntegerTooLarge",
        DecodeError::NonFiniteFloat => "NonFiniteFloat",
        DecodeError::NonStringKey => "NonStringKey",
        DecodeError::TooDeep(_) => "TooDeep",
        DecodeError::MemoryLimit(_) => "MemoryLimit",
        DecodeError::NotADict(_) => "NotADict",
    }
}

/// Keys in order, at every level: Python dicts keep insertion order and so must the decoder.
fn keys_in_order(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                out.push(k.clone());
                keys_in_order(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| keys_in_order(i, out)),
        _ => {}
    }
}

#[test]
fn reads_cpython_pickles_of_protocols_2_to_5() {
    for (name, proto, hex, want) in vectors::OK {
        let data = hex::decode(hex).unwrap();
        if is_big(name) && !cfg!(feature = "big-ints") {
            let e = loads(&data, &limits()).unwrap_err();
            assert_eq!(variant(&e), "IntegerTooLarge", "{name} without big-ints");
            continue;
        }
        let got = loads(&data, &limits()).unwrap_or_else(|e| panic!("{name} p{proto}: {e}"));
        let want: Value = sesame_core::pyjson::loads(want).unwrap();
        let got = Value::Object(got);
        assert_eq!(got, want, "{name} protocol {proto}");
        let (mut a, mut b) = (vec![], vec![]);
        keys_in_order(&got, &mut a);
        keys_in_order(&want, &mut b);
        assert_eq!(a, b, "{name} protocol {proto}: key order");
    }
    let protocols: Vec<u8> = vectors::OK.iter().map(|v| v.1).collect();
    for p in 2..=5 {
        assert!(protocols.contains(&p), "a vector of protocol {p}");
    }
}

#[test]
fn the_session_vector_holds_every_plain_type() {
    let (_, _, hex, _) = vectors::OK
        .iter()
        .copied()
        .find(|v| v.0 == "session")
        .unwrap();
    let got = loads(&hex::decode(hex).unwrap(), &limits()).unwrap();
    assert_eq!(got["_auth_user_id"], json!("42"));
    assert_eq!(
        got["unicode"],
        json!("naïve ключ 日本 🐍 😀 \u{0} \u{7f} \"q\" \\")
    );
    assert_eq!(got["ints"][16], json!(u64::MAX));
    assert_eq!(got["ints"][14], json!(i64::MIN));
    assert_eq!(got["floats"][6], json!(0.1));
    assert_eq!(got["flags"], json!([true, false, null]));
    // Tuples become lists, as Django's JSON serializer makes them.
    assert_eq!(
        got["tuples"],
        json!([[], [1], [1, 2], [1, 2, 3], [1, 2, 3, 4]])
    );
}

#[test]
fn refuses_what_is_not_plain_data() {
    for (name, proto, hex, want) in vectors::ERR {
        let data = hex::decode(hex).unwrap();
        match loads(&data, &limits()) {
            Ok(v) => panic!("{name} p{proto}: decoded {v:?}"),
            Err(e) => assert_eq!(variant(&e), *want, "{name} protocol {proto}: {e}"),
        }
    }
}

#[test]
fn writes_what_cpython_writes() {
    for (name, text, hex) in vectors::ENCODE {
        if is_big(name) && !cfg!(feature = "big-ints") {
            continue;
        }
        let data: Map<String, Value> = match sesame_core::pyjson::loads(text).unwrap() {
            Value::Object(m) => m,
            other => panic!("{name}: {other}"),
        };
        let mine = dumps(&data).unwrap();
        assert_eq!(hex::encode(&mine), *hex, "{name}");
        assert_eq!(loads(&mine, &limits()).unwrap(), data, "{name} round trip");
    }
}

#[test]
fn large_strings_are_written_outside_frames() {
    // CPython: the open frame is closed, the header and payload of a str of 64 KiB or more
    // follow unframed, and its MEMOIZE opens the next frame.
    let big = "y".repeat(70_000);
    let data: Map<String, Value> = [("a".to_owned(), json!(big)), ("b".to_owned(), json!(1))]
        .into_iter()
        .collect();
    let out = dumps(&data).unwrap();
    // PROTO 5, FRAME(7): EMPTY_DICT MEMOIZE MARK SHORT_BINUNICODE "a" MEMOIZE
    let mut want = vec![0x80, 5, 0x95, 7, 0, 0, 0, 0, 0, 0, 0];
    want.extend([0x7d, 0x94, 0x28, 0x8c, 1, b'a', 0x94]);
    want.push(b'X');
    want.extend(70_000u32.to_le_bytes());
    want.extend(big.as_bytes());
    // FRAME(8): MEMOIZE SHORT_BINUNICODE "b" MEMOIZE BININT1 1 SETITEMS STOP
    want.extend([0x95, 9, 0, 0, 0, 0, 0, 0, 0]);
    want.extend([0x94, 0x8c, 1, b'b', 0x94, 0x4b, 1, 0x75, 0x2e]);
    assert_eq!(out, want);
    assert_eq!(loads(&out, &limits()).unwrap(), data);
}

#[test]
fn the_spec_example_from_django() {
    // spec/django-sessions.md §4.2: what Django 5.2 stored for this session in Redis.
    let stored = "80059535000000000000007d94288c0d5f617574685f757365725f6964948c023432948c016e944b078c0f5f73657373696f6e5f657870697279944d5802752e";
    let want = json!({"_auth_user_id": "42", "n": 7, "_session_expiry": 600});
    let got = loads(&hex::decode(stored).unwrap(), &limits()).unwrap();
    assert_eq!(Value::Object(got.clone()), want);
    assert_eq!(hex::encode(dumps(&got).unwrap()), stored);
}

/// Builds a pickle by hand: PROTO 4, then the given opcodes, then STOP.
fn program(ops: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![0x80, 4];
    for op in ops {
        out.extend_from_slice(op);
    }
    out.push(b'.');
    out
}

fn decode(ops: &[&[u8]]) -> Result<Value, DecodeError> {
    loads_value(&program(ops), &limits())
}

#[test]
fn every_supported_opcode() {
    let frame_len = 1u64.to_le_bytes();
    // FRAME around a NONE.
    assert_eq!(decode(&[&[0x95], &frame_len, b"N"]).unwrap(), Value::Null);
    // EMPTY_DICT MEMOIZE MARK key value key value SETITEMS
    let v = decode(&[
        b"}\x94(",
        b"\x8c\x01a\x94",
        b"K\x07",
        b"X\x02\x00\x00\x00bb\x94",
        b"M\x00\x01",
        b"u",
    ])
    .unwrap();
    assert_eq!(v, json!({"a": 7, "bb": 256}));
    // SETITEM, BINUNICODE8, NEWTRUE/NEWFALSE, BININT (negative), LONG1, LONG4, BINFLOAT
    let v = decode(&[
        b"}\x94",
        b"\x8d\x01\x00\x00\x00\x00\x00\x00\x00k",
        b"(\x88\x89J\xff\xff\xff\xff",
        b"\x8a\x02\xff\x7f",
        b"\x8b\x03\x00\x00\x00\x01\x00\x80",
        b"G\x3f\xf8\x00\x00\x00\x00\x00\x00",
        b"t",
        b"s",
    ])
    .unwrap();
    assert_eq!(v, json!({"k": [true, false, -1, 32767, -8_388_607, 1.5]}));
    // EMPTY_LIST, APPEND, APPENDS, TUPLE1/2/3, EMPTY_TUPLE
    let v = decode(&[
        b"]\x94",
        b"N",
        b"a",
        b"(K\x01K\x02\x85K\x03K\x04\x86K\x05K\x06K\x07\x87)e",
    ])
    .unwrap();
    assert_eq!(v, json!([null, 1, [2], [3, 4], [5, 6, 7], []]));
    // BINPUT / LONG_BINPUT / BINGET / LONG_BINGET share one list, as Python's memo does: an
    // item appended through one reference shows through the others.
    let v = decode(&[
        b"]q\x05",             // outer, memo 5
        b"]r\x00\x01\x00\x00", // inner, memo 256
        b"a",                  // outer.append(inner)
        b"j\x00\x01\x00\x00",  // inner again
        b"K\x09a",             // inner.append(9)
        b"h\x05",              // outer again
        b"\x87",               // (outer, inner, outer)
    ])
    .unwrap();
    assert_eq!(v, json!([[[9]], [9], [[9]]]));
    // MEMOIZE numbers entries in order; references to one list from a MARK batch.
    let v = decode(&[b"]\x94", b"]\x94", b"K\x01a", b"a", b"(h\x01h\x01e"]).unwrap();
    assert_eq!(v, json!([[1], [1], [1]]));
    // LONG with padding and zero length.
    let v = decode(&[b"(\x8a\x00\x8a\x04\x05\x00\x00\x00\x8a\x03\xff\xff\xfft"]).unwrap();
    assert_eq!(v, json!([0, 5, -1]));
    // A repeated key keeps its first place and takes the last value, as in Python.
    let v = decode(&[b"}(\x8c\x01aK\x01\x8c\x01bK\x02\x8c\x01aK\x03u"]).unwrap();
    assert_eq!(serde_json::to_string(&v).unwrap(), r#"{"a":3,"b":2}"#);
}

#[test]
fn malformed_programs_are_refused() {
    let cases: &[(&[&[u8]], &str)] = &[
        (&[b"a"], "Malformed"),                    // APPEND on an empty stack
        (&[b"N", b"a"], "Malformed"),              // APPEND to None
        (&[b"}K\x01a"], "Malformed"),              // APPEND to a dict
        (&[b"]K\x01K\x02s"], "Malformed"),         // SETITEM on a list
        (&[b"}(K\x01u"], "Malformed"),             // odd SETITEMS
        (&[b"e"], "Malformed"),                    // APPENDS without MARK
        (&[b"](N"], "Malformed"),                  // STOP with a MARK open
        (&[b"NN"], "Malformed"),                   // STOP with two values
        (&[b"h\x00"], "Malformed"),                // BINGET of an unknown key
        (&[b"\x94"], "Malformed"),                 // MEMOIZE of nothing
        (&[b"(N\x94\x94"], "Malformed"),           // STOP with a MARK open, after MEMOIZE
        (&[b"]\x80\x04"], "Malformed"),            // PROTO again
        (&[b"(\x85"], "Malformed"),                // TUPLE1 on an empty mark
        (&[b"]K\x01(\x85"], "Malformed"),          // TUPLE1 cannot reach below the MARK
        (&[b"\x8b\xff\xff\xff\xff"], "Malformed"), // negative LONG4 length
        (&[b"\xff"], "UnknownOpcode"),
        (&[b"c__builtin__\neval\n"], "Forbidden"),
        (&[b"\x8c\x08builtins\x8c\x04eval\x93"], "Forbidden"),
        (&[b"NN\x86R"], "Forbidden"),
        (&[b"Q"], "Forbidden"),
        (&[b"C\x01x"], "Unsupported"),
        (&[b"\x8f"], "Unsupported"),
        (&[b"I1\n"], "Unsupported"),
        (&[b"G\x7f\xf8\x00\x00\x00\x00\x00\x00"], "NonFiniteFloat"),
        (&[b"}K\x01K\x02s"], "NonStringKey"),
        (&[b"}NK\x02s"], "NonStringKey"),
        (&[b"\x8c\x02\xc3("], "InvalidUtf8"),
        // Beyond Python's 4300-digit limit: 1800 bytes of LONG4.
        (&[b"\x8b\x08\x07\x00\x00", &[0x11; 1800]], "IntegerTooLarge"),
    ];
    for (ops, want) in cases {
        match decode(ops) {
            Ok(v) => panic!("{ops:?}: decoded {v:?}"),
            Err(e) => assert_eq!(variant(&e), *want, "{ops:?}: {e}"),
        }
    }
    // Not a protocol 2..=5 pickle at all.
    for bad in [
        &b""[..],
        b"\x80",
        b"\x80\x01N.",
        b"\x80\x06N.",
        b"}.",
        b"42",
    ] {
        assert_eq!(
            loads_value(bad, &limits()).map_err(|e| variant(&e)),
            Err("NotProtocol2To5"),
            "{bad:?}"
        );
    }
    // Truncated anywhere: every proper prefix of a good pickle fails, none panics.
    let good = dumps(
        &json!({"a": [1, "two", 3.5, null, 70000, -70000, u64::MAX]})
            .as_object()
            .cloned()
            .unwrap(),
    )
    .unwrap();
    for n in 0..good.len() {
        assert!(loads_value(&good[..n], &limits()).is_err(), "prefix {n}");
    }
    // A root that is not a dict.
    assert_eq!(
        loads(&program(&[b"K\x2a"]), &limits()).map_err(|e| variant(&e)),
        Err("NotADict")
    );
}

#[test]
fn forged_lengths_cost_nothing() {
    let cases: &[&[u8]] = &[
        b"\x8d\xff\xff\xff\xff\xff\xff\xff\xff", // BINUNICODE8 of 2^64-1 bytes
        b"\x8d\x00\x00\x00\x00\x00\x00\x00\x80", // BINUNICODE8 of 2^63 bytes
        b"X\xff\xff\xff\xff",                    // BINUNICODE of 4 GiB
        b"\x8b\xff\xff\xff\x7f",                 // LONG4 of 2 GiB
        b"\x95\xff\xff\xff\xff\xff\xff\xff\xff", // FRAME of 2^64-1 bytes
        b"\x8c\xff",                             // SHORT_BINUNICODE past the end
    ];
    for ops in cases {
        let mut data = vec![0x80, 5];
        data.extend_from_slice(ops);
        assert_eq!(
            loads_value(&data, &limits()).map_err(|e| variant(&e)),
            Err("Truncated"),
            "{ops:?}"
        );
    }
    // BINBYTES8 with a forged length is refused before its length is even read.
    let data = b"\x80\x05\x8e\xff\xff\xff\xff\xff\xff\xff\xff";
    assert_eq!(
        loads_value(data, &limits()).map_err(|e| variant(&e)),
        Err("Unsupported")
    );
}

#[test]
fn input_over_the_limit_is_refused_unread() {
    let small = Limits {
        max_input_bytes: 10,
        ..Limits::default()
    };
    let data = dumps(&json!({"a": "0123456789"}).as_object().cloned().unwrap()).unwrap();
    assert!(matches!(
        loads(&data, &small),
        Err(DecodeError::TooLarge { limit: 10, .. })
    ));
}

#[test]
fn memo_references_cannot_multiply_memory() {
    // 30 levels of 15 bytes each, 2^30 references once copied out. The decoder must stop at
    // its memory budget, quickly.
    // The root list holds level 0, then each level k + 1 is a list of level k twice.
    let mut data = vec![0x80, 4, b']', b']', 0x94, b'a'];
    for level in 0..30u32 {
        data.extend_from_slice(b"](j");
        data.extend_from_slice(&level.to_le_bytes());
        data.push(b'j');
        data.extend_from_slice(&level.to_le_bytes());
        data.extend_from_slice(b"e\x94a");
    }
    data.push(b'.');
    let start = std::time::Instant::now();
    let got = loads_value(&data, &limits());
    assert!(matches!(got, Err(DecodeError::MemoryLimit(_))), "{got:?}");
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    // The same with a small budget stops even sooner; a budget big enough decodes it.
    let tight = Limits {
        max_memory_bytes: 1 << 16,
        ..Limits::default()
    };
    assert!(matches!(
        loads_value(&data, &tight),
        Err(DecodeError::MemoryLimit(_))
    ));
}

#[test]
fn nesting_is_capped_without_recursion_in_the_machine() {
    // 100,000 nested lists: the machine builds them iteratively, the walk stops at the cap.
    let n = 100_000;
    let mut data = vec![0x80, 4];
    data.extend(std::iter::repeat_n(b']', n));
    data.extend(std::iter::repeat_n(b'a', n - 1));
    data.push(b'.');
    assert_eq!(
        loads_value(&data, &limits()).map_err(|e| variant(&e)),
        Err("TooDeep")
    );
    // Exactly MAX_DEPTH levels decode; one more does not.
    let nested = |levels: usize| {
        let mut d = vec![0x80, 4];
        d.extend(std::iter::repeat_n(b']', levels));
        d.extend(std::iter::repeat_n(b'a', levels - 1));
        d.push(b'.');
        d
    };
    assert!(loads_value(&nested(MAX_DEPTH), &limits()).is_ok());
    assert!(matches!(
        loads_value(&nested(MAX_DEPTH + 1), &limits()),
        Err(DecodeError::TooDeep(_))
    ));
    // A list that contains itself is infinitely deep.
    assert_eq!(
        decode(&[b"]\x94h\x00a"]).map_err(|e| variant(&e)),
        Err("TooDeep")
    );
    // And a million MARKs hit the memory budget or the end, not the stack.
    let mut data = vec![0x80, 4];
    data.extend(std::iter::repeat_n(b'(', 1_000_000));
    assert!(loads_value(&data, &limits()).is_err());
}

#[test]
fn encoding_refuses_what_it_could_not_read_back() {
    let mut v = json!([]);
    for _ in 0..MAX_DEPTH {
        v = json!([v]);
    }
    let data: Map<String, Value> = [("deep".to_owned(), v)].into_iter().collect();
    assert_eq!(dumps(&data), Err(EncodeError::TooDeep(MAX_DEPTH)));
    let mut v = json!([]);
    for _ in 0..MAX_DEPTH - 2 {
        v = json!([v]);
    }
    let data: Map<String, Value> = [("deep".to_owned(), v)].into_iter().collect();
    let out = dumps(&data).unwrap();
    assert_eq!(loads(&out, &limits()).unwrap(), data);
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<u64>().prop_map(|u| json!(u)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        // Strings across the short/long boundary.
        (250usize..300).prop_map(|n| Value::String("é".repeat(n / 2))),
    ];
    leaf.prop_recursive(6, 200, 12, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..12).prop_map(Value::Array),
            prop::collection::vec((".{0,12}", inner), 0..12)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_session_round_trips(map in prop::collection::vec((".{0,20}", json_value()), 0..16)) {
        let data: Map<String, Value> = map.into_iter().collect();
        let out = dumps(&data).unwrap();
        prop_assert_eq!(loads(&out, &limits()).unwrap(), data);
    }

    #[test]
    fn no_byte_string_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = loads_value(&bytes, &limits());
        let mut with_proto = vec![0x80, 5];
        with_proto.extend_from_slice(&bytes);
        let _ = loads_value(&with_proto, &limits());
    }

    #[test]
    fn opcode_soup_never_panics(ops in prop::collection::vec(prop::sample::select(vec![
        &b"("[..], b")", b"]", b"}", b"N", b"\x88", b"K\x01", b"\x8c\x01a", b"\x94", b"h\x00",
        b"h\x01", b"j\x02\x00\x00\x00", b"q\x00", b"a", b"e", b"s", b"u", b"t", b"\x85", b"\x86",
        b"\x87", b"\x8a\x01\x80", b"\x95\x01\x00\x00\x00\x00\x00\x00\x00", b".",
    ]), 0..64)) {
        let mut data = vec![0x80, 4];
        for op in ops {
            data.extend_from_slice(op);
        }
        let _ = loads_value(&data, &limits());
    }

    #[test]
    fn damaged_pickles_never_panic(
        map in prop::collection::vec((".{0,8}", json_value()), 1..6),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let data: Map<String, Value> = map.into_iter().collect();
        let mut out = dumps(&data).unwrap();
        for (at, byte) in flips {
            let i = at.index(out.len());
            out[i] = byte;
        }
        let _ = loads_value(&out, &limits());
        let n = cut.index(out.len());
        let _ = loads_value(&out[..n], &limits());
    }
}

/// The vectors of ints beyond 64 bits (decoded only with the `big-ints` feature).
fn is_big(name: &str) -> bool {
    name.starts_with("big_int") || name == "huge_int"
}

#[cfg(not(feature = "big-ints"))]
#[test]
fn ints_beyond_64_bits_are_refused_without_big_ints() {
    let e = decode(&[b"\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01"]).unwrap_err();
    assert_eq!(variant(&e), "IntegerTooLarge");
    // u64::MAX still fits.
    let max = decode(&[b"\x8a\x09\xff\xff\xff\xff\xff\xff\xff\xff\x00"]).unwrap();
    assert_eq!(max, json!(u64::MAX));
}

#[cfg(feature = "big-ints")]
#[test]
fn ints_beyond_64_bits_are_kept_to_the_digit() {
    let two_64 = decode(&[b"\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01"]).unwrap();
    assert_eq!(two_64.to_string(), "18446744073709551616");
    let below_i64 = decode(&[b"\x8a\x09\xff\xff\xff\xff\xff\xff\xff\x7f\xff"]).unwrap();
    assert_eq!(below_i64.to_string(), "-9223372036854775809");
    // The largest Python prints: 4300 digits, written back byte for byte.
    let nines = "9".repeat(MAX_BIG_INT_DIGITS);
    let mut data = Map::new();
    data.insert("n".into(), Value::Number(nines.parse().unwrap()));
    let pickled = dumps(&data).unwrap();
    let back = loads(&pickled, &limits()).unwrap();
    assert_eq!(back["n"].to_string(), nines);
    assert_eq!(
        sesame_core::pyjson::dumps_compact(&Value::Object(back)),
        format!("{{\"n\":{nines}}}")
    );
    // One digit more is refused on both sides.
    data.insert(
        "n".into(),
        Value::Number(format!("-1{nines}").parse().unwrap()),
    );
    assert!(matches!(dumps(&data), Err(EncodeError::IntegerTooLarge(_))));
}
