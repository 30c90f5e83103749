//! The pickle reader of the Redis stores (`sesame_redis::pickle`), which reads what Django's
//! cache wrote (and what anyone with access to Redis may have written).
//!
//! Asserts: no panic, within the default limits and tight ones; what it reads, the writer
//! writes, and that reads back to the same value (compared as Python-exact JSON).

use crate::Target;
use serde_json::Value;
use sesame_core::pyjson;
use sesame_redis::pickle::{Limits, dumps, dumps_value, loads, loads_value};

/// The target.
pub const TARGET: Target = Target {
    name: "pickle",
    about: "pickle loads under default and tight limits; loads -> dumps -> loads identity",
    run,
    seeds,
};

fn run(data: &[u8]) {
    let tight = Limits {
        max_input_bytes: 4096,
        max_depth: 8,
        max_memory_bytes: 16 * 1024,
    };
    let _ = loads_value(data, &tight);
    if let Ok(v) = loads_value(data, &Limits::default()) {
        let bytes = match dumps_value(&v) {
            Ok(b) => b,
            Err(e) => panic!("read {v:?} but cannot write it: {e}"),
        };
        match loads_value(&bytes, &Limits::default()) {
            Ok(back) => assert_eq!(pyjson::dumps_compact(&back), pyjson::dumps_compact(&v)),
            Err(e) => panic!("own pickle of {v:?} refused: {e}"),
        }
    }
    if let Ok(map) = loads(data, &Limits::default()) {
        assert!(dumps(&map).is_ok(), "{map:?}");
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let mut out = vec![
        // Django 5.2's pickle of {"_auth_user_id": "1"} (protocol 5).
        b"\x80\x05\x95\x17\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x0e_auth_user_id\x94\x8c\x011\x94s.".to_vec(),
        // Protocol 2 with a list, a tuple, ints, a float, True and None.
        b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01M\x00\x01J\xff\xff\xff\xffG?\xf8\x00\x00\x00\x00\x00\x00\x88Ne\x85q\x03u.".to_vec(),
        // A long (LONG1) and a forbidden GLOBAL.
        b"\x80\x04\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01.".to_vec(),
        b"cos\nsystem\n(S'id'\ntR.".to_vec(),
    ];
    let Ok(Value::Object(m)) = pyjson::loads(
        r#"{"_auth_user_id":"1","messages":[["__json_message",0,20,"Hi"]],"x":{"y":[1.5,-2,null,true]},"big":123456789012345678901234567890}"#,
    ) else {
        return out;
    };
    if let Ok(b) = dumps(&m) {
        out.push(b);
    }
    out
}
