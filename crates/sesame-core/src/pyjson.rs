//! JSON exactly as Python's `json.dumps` writes it, and Django's latin-1 JSON decoding.
//!
//! Every signed Django payload is JSON, and the MAC covers its exact bytes, so "equivalent"
//! JSON is not enough to reproduce Django's output. `serde_json` differs from Python in three
//! ways that matter here: it writes raw UTF-8 (Python escapes every non-ASCII character with
//! `ensure_ascii=True`), it formats floats differently (`1e16` against Python's `1e+16`), and
//! it cannot choose Python's default separators. Hence this small hand-written writer over
//! `serde_json::Value`, which keeps insertion order (the `preserve_order` feature).
//!
//! Integers beyond 64 bits, which Python writes freely, are kept exactly with the `big-ints`
//! feature (serde_json's `arbitrary_precision`: a `Number` holds its digits, written back as
//! they came); without it serde_json reads them as floats. Floats read here are normalised to
//! the form `serde_json` gives `Number::from_f64` (see [`loads`]), so that a decoded session
//! compares equal to the same values built in Rust whichever way serde_json is built. Known
//! limit: Python may emit `NaN`/`Infinity`, which JSON values cannot hold, so such payloads
//! do not decode.

use serde_json::Value;
use std::fmt::Write;

/// Python's separators: `(",", ":")` (compact, as Django's signing serializer uses) or the
/// defaults `(", ", ": ")` (as the messages session storage uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Separators {
    /// `separators=(",", ":")`.
    Compact,
    /// `json.dumps` defaults: `", "` and `": "`.
    Default,
}

/// `json.dumps(value, separators=(",", ":"))` with `ensure_ascii=True`.
///
/// ```
/// use serde_json::json;
/// let s = sesame_core::pyjson::dumps_compact(&json!({"name": "Jörg 🐍", "x": 1e16}));
/// assert_eq!(s, r#"{"name":"J\u00f6rg \ud83d\udc0d","x":1e+16}"#);
/// ```
pub fn dumps_compact(value: &Value) -> String {
    dumps(value, Separators::Compact)
}

/// `json.dumps(value)` with the given separators and `ensure_ascii=True`.
pub fn dumps(value: &Value, separators: Separators) -> String {
    let mut out = String::new();
    write_value(&mut out, value, separators);
    out
}

fn write_value(out: &mut String, value: &Value, sep: Separators) {
    let (item, key) = match sep {
        Separators::Compact => (",", ":"),
        Separators::Default => (", ", ": "),
    };
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else if let Some(digits) = big_int_digits(n) {
                out.push_str(&digits);
            } else if let Some(f) = n.as_f64().filter(|f| f.is_finite()) {
                write_float(out, f);
            } else {
                // Parsed text out of f64's range (`1e400`): kept as it came, which Python
                // reads as it would have read the original.
                let _ = write!(out, "{n}");
            }
        }
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(item);
                }
                write_value(out, v, sep);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(item);
                }
                write_str(out, k);
                out.push_str(key);
                write_value(out, v, sep);
            }
            out.push('}');
        }
    }
}

/// A JSON string literal with Python's `ensure_ascii` escapes.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// A float as Python's `float.__repr__` writes it: the shortest round-tripping digits, in
/// positional notation when the decimal exponent is in `-4 < e < 16`, else in scientific
/// notation with a signed, at-least-two-digit exponent.
pub fn write_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("NaN");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    // Rust's `{:e}` gives the shortest round-trip digits, like Python's repr.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let decpt = exp + 1;
    if negative {
        out.push('-');
    }
    if !(-3..=16).contains(&decpt) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    } else if decpt <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-decpt) as usize));
        out.push_str(&digits);
    } else {
        let d = decpt as usize;
        if d >= digits.len() {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', d - digits.len()));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..d]);
            out.push('.');
            out.push_str(&digits[d..]);
        }
    }
}

/// Django's `JSONSerializer.loads`: the bytes are decoded as latin-1, then parsed.
///
/// Django itself only ever writes ASCII, so for its output this is the same as UTF-8; for
/// raw UTF-8 written by someone else it reproduces Django's (mojibake) reading.
pub fn loads_latin1(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    // What Python writes is ASCII (`ensure_ascii`), where latin-1 and UTF-8 agree.
    if bytes.is_ascii() {
        if let Ok(text) = std::str::from_utf8(bytes) {
            return loads(text);
        }
    }
    let text: String = bytes.iter().map(|&b| char::from(b)).collect();
    loads(&text)
}

/// `json.loads(text)`: floats normalised (below); integers beyond 64 bits kept exactly with
/// the `big-ints` feature.
///
/// ```
/// let v = sesame_core::pyjson::loads(r#"{"n": 18446744073709551615, "x": 1e+16}"#).unwrap();
/// assert_eq!(sesame_core::pyjson::dumps_compact(&v), r#"{"n":18446744073709551615,"x":1e+16}"#);
/// assert_eq!(v["x"], serde_json::json!(1e16));
/// ```
pub fn loads(text: &str) -> Result<Value, serde_json::Error> {
    let mut value = serde_json::from_str(text)?;
    normalize_floats(&mut value);
    Ok(value)
}

/// The digits of an integer outside `i64`/`u64` (Python's arbitrary-size `int`), or `None`
/// for any other number.
pub fn big_int_digits(n: &serde_json::Number) -> Option<String> {
    // Every float and 64-bit int leaves here, before any text is made.
    if n.is_i64() || n.is_u64() || n.is_f64() {
        return None;
    }
    let text = n.to_string();
    let digits = text.strip_prefix('-').unwrap_or(&text);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(text)
}

/// With `arbitrary_precision` a parsed float keeps its text (`1e+16`), which would not compare
/// equal to the same float made in Rust (`1e16`); re-making each float from its value gives
/// every float one spelling. Integers are left as they are.
fn normalize_floats(value: &mut Value) {
    match value {
        Value::Number(n) => {
            if n.is_f64()
                && let Some(f) = n.as_f64().and_then(serde_json::Number::from_f64)
            {
                *n = f;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize_floats),
        Value::Object(map) => map.values_mut().for_each(normalize_floats),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(x: f64) -> String {
        let mut s = String::new();
        write_float(&mut s, x);
        s
    }

    #[test]
    fn floats_like_python_repr() {
        assert_eq!(f(1.0), "1.0");
        assert_eq!(f(0.0), "0.0");
        assert_eq!(f(-0.0), "-0.0");
        assert_eq!(f(0.1), "0.1");
        assert_eq!(f(1e16), "1e+16");
        assert_eq!(f(1e15), "1000000000000000.0");
        assert_eq!(f(0.0001), "0.0001");
        assert_eq!(f(0.00001), "1e-05");
        assert_eq!(f(123.456), "123.456");
        assert_eq!(f(-1.5e300), "-1.5e+300");
        assert_eq!(f(5e-324), "5e-324");
        assert_eq!(f(f64::NAN), "NaN");
        assert_eq!(f(f64::NEG_INFINITY), "-Infinity");
    }

    #[test]
    fn strings_like_python() {
        let v = json!("a\"b\\c\n\r\t\u{8}\u{c}\u{1}\u{7f}/é🐍");
        assert_eq!(
            dumps_compact(&v),
            r#""a\"b\\c\n\r\t\b\f\u0001\u007f/\u00e9\ud83d\udc0d""#
        );
    }

    #[test]
    fn separators() {
        let v = json!([["__json_message", 0, 20, "Hello"], {"a": null}]);
        assert_eq!(
            dumps_compact(&v),
            r#"[["__json_message",0,20,"Hello"],{"a":null}]"#
        );
        assert_eq!(
            dumps(&v, Separators::Default),
            r#"[["__json_message", 0, 20, "Hello"], {"a": null}]"#
        );
    }

    #[test]
    fn latin1_reading() {
        assert_eq!(
            loads_latin1("\"Jörg\"".as_bytes()).ok(),
            Some(json!("JÃ¶rg"))
        );
        assert_eq!(loads_latin1(br#""J\u00f6rg""#).ok(), Some(json!("Jörg")));
    }

    #[cfg(feature = "big-ints")]
    #[test]
    fn numbers_of_any_size_round_trip_as_python_writes_them() {
        let text = r#"{"big":[18446744073709551616,-1267650600228229401496703205376],"f":[1e+16,1e-07,0.1],"huge":1e400}"#;
        let v = loads(text).unwrap();
        // Out of f64's range: written back as the parser kept it, which Python reads as inf.
        assert_eq!(dumps_compact(&v), text.replace("1e400", "1e+400"));
        assert_eq!(v["f"], json!([1e16, 1e-7, 0.1]), "one spelling per float");
        assert!(big_int_digits(&serde_json::Number::from(7)).is_none());
        assert!(big_int_digits(&serde_json::Number::from_f64(1.5).unwrap()).is_none());
    }
}
